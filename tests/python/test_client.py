"""The synchronous client against a real broker (ipc://)."""

import os
import shutil
import socket
import tempfile
import threading
import unittest

import ipcq
from ipcq import errors

from ipcq_testlib import BrokerTestCase


class RoundTrip(BrokerTestCase):
    def test_send_recv(self):
        c = self.client()
        with c.queue("jobs") as q:
            q.send(b"hello")
            q.send("wörld")
            m = q.recv(timeout=5)
            self.assertEqual(m.data, b"hello")
            self.assertFalse(m.redelivered)
            self.assertEqual(m.delivery_count, 1)
            self.assertEqual(q.recv(timeout=5).text, "wörld")
        self.assertEqual(c.list(), ["jobs"])

    def test_default_url_from_env(self):
        import os
        old = os.environ.get("IPCQ_URL")
        os.environ["IPCQ_URL"] = self.url
        try:
            self.assertEqual(ipcq.default_url(), self.url)
            with ipcq.Client() as c:
                self.assertEqual(c.url, self.url)
                self.assertEqual(c.list(), [])
        finally:
            if old is None:
                del os.environ["IPCQ_URL"]
            else:
                os.environ["IPCQ_URL"] = old

    def test_batch(self):
        c = self.client()
        q = c.queue("batch")
        msgs = [b"m%d" % i for i in range(3000)]   # > 1024: several frames
        self.assertEqual(q.send_many(msgs), 3000)
        self.assertEqual(q.stats()["depth"], 3000)
        got = []
        while len(got) < 3000:
            batch = q.recv_many(max=5000, timeout=5)
            self.assertLessEqual(len(batch), 1024)
            got.extend(m.data for m in batch)
        self.assertEqual(got, msgs)
        self.assertEqual(q.send_many([]), 0)

    def test_large_message(self):
        q = self.client().queue("big", max_bytes=64 << 20,
                                max_message_bytes=16 << 20)
        big = bytes(range(256)) * (10 << 12)       # 10 MiB
        q.send(big)
        self.assertEqual(q.recv(timeout=10).data, big)
        self.assertRaises(TypeError, q.send, 123)

    def test_iteration_stops_at_eof(self):
        c = self.client()
        q = c.queue("it")
        q.send_many(["a", "b", "c"])
        self.assertFalse(q.end() is None)
        self.assertEqual([m.text for m in q], ["a", "b", "c"])
        # EOF is sticky on the handle, like libipcq.
        self.assertRaises(errors.EOF, q.recv, 0)
        self.assertEqual(list(q), [])

    def test_admin(self):
        c = self.client()
        q = c.queue("adm", max_messages=10)
        q.send_many(["x", "y"])
        st = c.stats("adm")
        self.assertEqual((st["depth"], st["max_messages"]), (2, 10))
        # The segment's memory and the broker's totals and limits.
        self.assertGreater(st["segment_bytes"], 64 << 20)
        self.assertEqual(st["broker_segment_bytes"], st["segment_bytes"])
        self.assertEqual((st["broker_queues"], st["broker_max_queues"]),
                         (1, 4096))
        self.assertGreater(st["broker_max_memory"], 0)
        self.assertEqual(list(c.stats()), ["adm"])
        self.assertEqual(c.purge("adm"), 2)
        c.shutdown_queue("adm")
        self.assertTrue(c.stats("adm")["ended"])
        c.delete("adm")
        self.assertEqual(c.list(), [])
        self.assertRaises(errors.EDELETED, q.send, "z")


class Ack(BrokerTestCase):
    def test_explicit_ack_and_nack(self):
        c = self.client()
        q = c.queue("acks", ack="explicit")
        q.send_many(["one", "two"])
        m1, m2 = q.recv_many(2, timeout=5)
        q.ack(m1)
        with self.assertRaises(errors.ENOLEASE) as cm:
            q.ack(m1)
        self.assertEqual(cm.exception.acked, 0)
        q.nack(m2)
        m = q.recv(timeout=5)
        self.assertEqual((m.text, m.redelivered, m.delivery_count),
                         ("two", True, 2))
        self.assertEqual(q.ack_many([m]), 1)
        other = c.queue("acks")
        self.assertRaises(errors.EINVAL, other.ack, m)

    def test_redelivery_after_connection_drop(self):
        prod = self.client()
        p = prod.queue("work", role="producer")
        p.send_many(["a", "b", "c"])
        dying = ipcq.Client(self.url)
        dq = dying.queue("work", ack="explicit")
        got = dq.recv_many(3, timeout=5)
        self.assertEqual([m.text for m in got], ["a", "b", "c"])
        dying.close()           # the connection drops with 3 leases
        cons = self.client().queue("work", ack="explicit")
        again = []
        while len(again) < 3:   # waits until the broker has noticed
            again.extend(cons.recv_many(3, timeout=10))
        self.assertEqual([m.text for m in again], ["a", "b", "c"])
        for m in again:
            self.assertTrue(m.redelivered)
            self.assertEqual(m.delivery_count, 2)
        self.assertEqual(cons.ack_many(again), 3)
        self.assertEqual(prod.stats("work")["redelivered"], 3)


class SilentPeer(unittest.TestCase):
    def test_silence_past_the_grace_redials(self):
        # A peer that completes the SP handshake and never answers, as the
        # broker does on a connection it dropped (docs/broker.md): the
        # call fails with ECONNLOST and the next call opens a new
        # connection instead of waiting on the silent one again.
        d = tempfile.mkdtemp()
        path = os.path.join(d, "s.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(4)
        conns = []

        def serve():
            while True:
                try:
                    s, _ = srv.accept()
                except OSError:
                    return
                conns.append(s)  # before the handshake completes
                s.sendall(b"\x00SP\x00\x00\x31\x00\x00")

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            c = ipcq.Client("ipc://" + path, reply_grace=0.3)
            self.assertRaises(errors.ECONNLOST, c.list)
            self.assertEqual(len(conns), 1)
            self.assertRaises(errors.ECONNLOST, c.list)
            self.assertEqual(len(conns), 2)
            c.close()
        finally:
            srv.shutdown(socket.SHUT_RDWR)
            srv.close()
            t.join(5)
            for s in conns:
                s.close()
            shutil.rmtree(d)


class Errors(BrokerTestCase):
    def test_bad_name(self):
        c = self.client()
        for bad in ("", "has space", "-dash", "x" * 129, "é"):
            with self.assertRaises(errors.EBADNAME) as cm:
                c.queue(bad)
            self.assertIsInstance(cm.exception, ipcq.IpcqError)
            self.assertIsInstance(cm.exception, ValueError)
            self.assertEqual((cm.exception.code, cm.exception.name),
                             (7, "EBADNAME"))
        self.assertRaises(errors.EBADNAME, c.stats, "a/b")
        self.assertRaises(errors.ENOTFOUND, c.stats, "nosuch")
        self.assertRaises(errors.ENOTFOUND, c.delete, "nosuch")

    def test_name_with_nul_is_refused_and_touches_nothing(self):
        # "nul.q\0x" must never act on "nul.q" (the broker refuses it on
        # the wire too: integration.nul_names).
        c = self.client()
        with c.queue("nul.q") as q:
            q.send(b"kept")
        bad = "nul.q\x00x"
        for call in (c.queue, c.stats, c.purge, c.delete, c.shutdown_queue):
            self.assertRaises(errors.EBADNAME, call, bad)
        st = c.stats("nul.q")
        self.assertEqual((st["depth"], st["purged"], st["ended"]),
                         (1, 0, False))
        with c.queue("nul.q") as q:
            self.assertEqual(q.recv(timeout=5).data, b"kept")

    def test_closed_queue(self):
        c = self.client()
        q = c.queue("cl")
        q.send("before")
        q.shutdown()
        with self.assertRaises(ipcq.QueueEnded) as cm:
            q.send("after")
        self.assertIs(type(cm.exception), errors.ECLOSED)
        self.assertEqual(cm.exception.accepted, 0)
        self.assertEqual([m.text for m in q], ["before"])
        with self.assertRaises(errors.ECLOSED) as cm:
            q.send_many(["x", "y"])
        self.assertEqual(cm.exception.accepted, 0)

    def test_durable_needs_a_state_dir(self):
        c = self.client()
        with self.assertRaises(errors.ENOTSUP):
            c.queue("dur", durable=True)
        # Not created, and the broker serves on.
        self.assertNotIn("dur", c.list())
        q = c.queue("plain")
        self.assertFalse(q.options["durable"])

    def test_timeout(self):
        q = self.client().queue("slow")
        with self.assertRaises(errors.ETIMEDOUT) as cm:
            q.recv(timeout=0.1)
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertIs(ipcq.Timeout, errors.ETIMEDOUT)
        self.assertRaises(errors.ETIMEDOUT, q.recv, 0)
        f = self.client().queue("full", max_messages=1)
        f.send("1")
        self.assertRaises(errors.ETIMEDOUT, f.send, "2", 0.05)
        g = self.client().queue("failing", max_messages=1,
                                full_policy="fail")
        g.send("1")
        self.assertRaises(errors.EFULL, g.send, "2")

    def test_msgsize_declare_abandoned(self):
        c = self.client()
        q = c.queue("small", max_bytes=1000, max_message_bytes=10)
        self.assertEqual(q.options["max_message_bytes"], 10)
        self.assertRaises(errors.EMSGSIZE, q.send, b"x" * 11)
        self.assertRaises(errors.EEXIST, c.queue, "small", declare=True)
        c.queue("small", max_bytes=1000, max_message_bytes=10,
                declare=True).close()
        p = c.queue("ab", role="producer")
        p.close()              # lost without ending
        cons = c.queue("ab")
        self.assertRaises(ipcq.StreamAbandoned, cons.recv, 1)
        with self.assertRaises(errors.EABANDONED):
            list(cons)          # iteration raises other errors

    def test_given_options_must_match_existing_queue(self):
        c = self.client()
        cons = c.queue("opts")                 # created with defaults
        with self.assertRaises(errors.EEXIST) as cm:
            c.queue("opts", role="producer", expected_producers=2)
        self.assertIn("expected_producers is 0, not 2", cm.exception.detail)
        self.assertRaises(errors.EEXIST, c.queue, "opts",
                          full_policy="drop_oldest")
        self.assertRaises(errors.EEXIST, c.queue, "opts", max_messages=5)
        self.assertEqual(c.stats("opts")["producers"], 0)
        with c.queue("opts", role="producer") as p:   # no options: accepted
            p.send(b"one")
        self.assertEqual(cons.recv(timeout=5).data, b"one")
        c.queue("opts", max_messages=100000).close()  # the queue's value

    def test_no_broker(self):
        with self.assertRaises(errors.ENOBROKER) as cm:
            ipcq.Client("ipc://%s/none.sock" % self.broker.dir,
                        connect_timeout=0.1)
        self.assertIsInstance(cm.exception, ConnectionError)
        self.assertRaises(errors.EINVAL, ipcq.Client, "http://x")

    def test_unknown_status_is_generic(self):
        e = errors.make_error(99, "future")
        self.assertIs(type(e), ipcq.IpcqError)
        self.assertEqual(e.code, 99)
        for name, num, _ in errors.TABLE[1:]:
            cls = getattr(errors, name)
            self.assertEqual((cls.code, cls.name), (num, name))
            self.assertIs(getattr(ipcq, name), cls)

    def test_table_matches_c_header_and_proto(self):
        import os
        import re
        from ipcq import _wire
        hdr = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           os.pardir, os.pardir, "libclient", "include",
                           "ipcq.h")
        with open(hdr) as f:
            text = f.read()
        rows = re.findall(r'X\((\w+), (\d+),[\s\\]*"([^"]*)"\)', text)
        self.assertEqual([(n, int(k), m) for n, k, m in rows],
                         list(errors.TABLE))
        self.assertEqual(
            sorted(_wire.pb.Status.items(), key=lambda kv: kv[1]),
            [("STATUS_" + n, k) for n, k, _ in errors.TABLE])


class Threads(BrokerTestCase):
    def test_parked_recv_does_not_block_other_threads(self):
        c = self.client()
        cons = c.queue("t", role="consumer")
        prod = c.queue("t", role="producer")
        got = []

        def consume():
            got.extend(m.text for m in cons)

        t = threading.Thread(target=consume)
        t.start()               # parks a recv on the shared connection
        for i in range(50):
            prod.send("m%d" % i)
        prod.end()
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual(got, ["m%d" % i for i in range(50)])

    def test_many_threads(self):
        c = self.client()
        q = c.queue("mt")
        errs = []

        def work(k):
            try:
                for i in range(100):
                    q.send("%d-%d" % (k, i))
            except Exception as exc:  # reported below
                errs.append(exc)

        ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(errs, [])
        self.assertEqual(c.stats("mt")["depth"], 800)


class Reconnect(BrokerTestCase):
    def test_handles_reattach_after_broker_restart(self):
        c = self.client()
        q = c.queue("rq", ack="explicit", max_messages=7)
        q.send("before")
        m = q.recv(timeout=5)
        parked = c.queue("other")
        lost = []

        def park():
            try:
                parked.recv()
            except ipcq.IpcqError as exc:
                lost.append(exc)

        t = threading.Thread(target=park)
        t.start()
        self.assertEqual(self.broker.restart(), 0)
        t.join(30)              # returns once the client saw the drop
        self.assertEqual([type(e) for e in lost], [errors.ECONNLOST])
        # The next call reconnects and re-opens the handle. The clean
        # stop kept "rq" (it held a lease) and the new broker adopted it
        # with its options; the empty "other" is gone.
        q.send("after")
        self.assertEqual(q.stats()["max_messages"], 7)
        self.assertRaises(errors.ENOLEASE, q.ack, m)   # lease died
        m1 = q.recv(timeout=5)
        self.assertEqual(m1.text, "before")            # redelivered
        self.assertTrue(m1.redelivered)
        q.ack(m1)
        m2 = q.recv(timeout=5)
        self.assertEqual(m2.text, "after")
        q.ack(m2)
        self.assertEqual(c.list(), ["rq"])


if __name__ == "__main__":
    unittest.main()
