"""Python and C (the `ipcq` command, a libipcq client) on one queue."""

import os
import signal
import subprocess
import unittest

import ipcq

from ipcq_testlib import BrokerTestCase, CLI

PEER = os.environ.get("IPCQ_TEST_PEER")


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

    @unittest.skipUnless(PEER, "IPCQ_TEST_PEER not set")
    def test_c_consumer_killed_python_consumer_gets_them(self):
        # A C consumer (libipcq, explicit ack) takes 3 and holds them
        # unacked; SIGKILL: the broker redelivers them to Python.
        p = self.client().queue("c-dies", role="producer")
        p.send_many(["k1", "k2", "k3"])
        env = dict(os.environ, IPCQ_URL=self.url)
        cons = subprocess.Popen([PEER, "consume", "c-dies", "--ack",
                                 "explicit", "--hold", "3"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=env)
        held = []
        for line in cons.stdout:          # waits on the peer, not a clock
            line = line.decode().strip()
            if line.startswith("M "):
                held.append(line.split()[1])
            if line.startswith(("HOLD", "ERR", "EOF")):
                break
        self.assertEqual(held, ["k1", "k2", "k3"], line)
        os.kill(cons.pid, signal.SIGKILL)
        cons.wait(timeout=10)
        cons.stdin.close()
        cons.stdout.close()
        q = self.client().queue("c-dies", ack="explicit")
        got = q.recv_many(3, timeout=10)
        self.assertEqual([m.text for m in got], ["k1", "k2", "k3"])
        self.assertTrue(all(m.redelivered and m.delivery_count == 2
                            for m in got))
        q.ack_many(got)
        st = self.client().stats("c-dies")
        self.assertEqual((st["redelivered"], st["acked"], st["in_flight"]),
                         (3, 3, 0))

    def test_end_of_stream_reaches_both_languages(self):
        # Two producers declared (one C, one Python), one consumer of each
        # language: every message once in total, and both see the end.
        name = "both-end"
        py_cons = self.client().queue(name, ack="explicit",
                                      expected_producers=2)
        c_cons = subprocess.Popen([CLI, "-u", self.url, "recv", "-a", name],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        r = self.broker.cli("send", "--end", name,
                            *["c%d" % i for i in range(50)])
        self.assertEqual(r.returncode, 0, r.stderr)
        pq = self.client().queue(name, role="producer")
        pq.send_many(["p%d" % i for i in range(50)])
        pq.end()
        got = []
        for m in py_cons:                 # stops at end of stream
            got.append(m.text)
            py_cons.ack(m)
        out, err = c_cons.communicate(timeout=30)
        self.assertEqual(c_cons.returncode, 0, err)   # C saw EOF too
        both = got + out.decode().splitlines()
        self.assertEqual(sorted(both), sorted(["c%d" % i for i in range(50)] +
                                              ["p%d" % i for i in range(50)]))


if __name__ == "__main__":
    unittest.main()
