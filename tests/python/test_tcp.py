"""tcp:// next to ipc:// on one broker, and the wire bytes of
docs/protocol.md ("Example: a list request") from a raw socket."""

import socket
import unittest

from ipcq_testlib import BrokerTestCase


class Tcp(BrokerTestCase):
    tcp = True

    def test_tcp_and_ipc_share_queues(self):
        t = self.client(self.broker.tcp_url)
        i = self.client(self.url)
        tq = t.queue("both", ack="explicit")
        iq = i.queue("both", role="producer")
        iq.send_many(["over ipc", b"\x00\xff" * 1000])
        self.assertTrue(iq.end())
        got = list(tq)
        self.assertEqual(got[0].text, "over ipc")
        self.assertEqual(got[1].data, b"\x00\xff" * 1000)
        self.assertEqual(tq.ack_many(got), 2)
        self.assertEqual(t.list(), ["both"])

    def test_list_bytes_ipc(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.url[len("ipc://"):])
        with s:
            s.sendall(bytes.fromhex("0053500000300000"))
            self.assertEqual(self._readn(s, 8),
                             bytes.fromhex("0053500000310000"))
            s.sendall(bytes.fromhex("01000000000000000880000001080152 00"
                                    .replace(" ", "")))
            self.assertEqual(self._readn(s, 15),
                             bytes.fromhex("010000000000000006800000015a00"))

    def test_list_bytes_tcp(self):
        host, port = self.broker.tcp_url[len("tcp://"):].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(bytes.fromhex("0053500000300000"))
            self.assertEqual(self._readn(s, 8),
                             bytes.fromhex("0053500000310000"))
            s.sendall(bytes.fromhex("00000000000000088000000108015200"))
            self.assertEqual(self._readn(s, 14),
                             bytes.fromhex("0000000000000006800000015a00"))

    @staticmethod
    def _readn(s, n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                break
            buf += chunk
        return buf


if __name__ == "__main__":
    unittest.main()
