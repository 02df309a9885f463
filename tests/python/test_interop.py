"""Python and C (the `ipcq` command, a libipcq client) on one queue."""

import subprocess
import unittest

import ipcq

from ipcq_testlib import BrokerTestCase, CLI


@unittest.skipUnless(CLI, "IPCQ_TEST_CLI not set")
class Interop(BrokerTestCase):
    def test_python_producer_c_consumer(self):
        # The C consumer attaches first and waits; the Python producer's
        # end() reaches it as end of stream (it exits 0).
        cons = subprocess.Popen([CLI, "-u", self.url, "recv", "-a", "py2c"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        q = self.client().queue("py2c", role="producer")
        lines = ["line %d" % i for i in range(200)]
        self.assertEqual(q.send_many(lines), 200)
        self.assertTrue(q.end())
        out, err = cons.communicate(timeout=30)
        self.assertEqual(cons.returncode, 0, err)
        self.assertEqual(out.decode().splitlines(), lines)

    def test_c_producer_python_consumer(self):
        q = self.client().queue("c2py", ack="explicit")
        r = self.broker.cli("send", "--end", "c2py", "alpha", "beta", "γ")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = []
        for m in q:
            got.append(m.text)
            q.ack(m)
        self.assertEqual(got, ["alpha", "beta", "γ"])
        st = self.client().stats("c2py")
        self.assertEqual((st["acked"], st["ended"]), (3, True))

    def test_python_consumer_dies_c_consumer_gets_them(self):
        self.client().queue("redo", role="producer").send_many(
            ["r1", "r2", "r3"])
        dying = ipcq.Client(self.url)
        held = dying.queue("redo", ack="explicit").recv_many(3, timeout=5)
        self.assertEqual(len(held), 3)
        dying.close()           # leases go back to the queue
        r = self.broker.cli("recv", "-a", "-n", "3", "redo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().splitlines(), ["r1", "r2", "r3"])
        st = self.client().stats("redo")
        self.assertEqual((st["redelivered"], st["acked"]), (3, 3))


if __name__ == "__main__":
    unittest.main()
