"""The Python examples (examples/python/, docs/examples.md) run end to end
as separate processes against a real broker: an example that does not run
is a bug. Each must exit 0 and print its OK line."""

import os
import subprocess
import sys
import unittest

from ipcq_testlib import BrokerTestCase, BROKER

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "python")
# The C examples sit in BUILD/examples, the broker in BUILD/broker.
C_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(BROKER)),
                          "examples") if BROKER else ""


class Examples(BrokerTestCase):
    def run_example(self, name, *args, ok="OK"):
        env = dict(os.environ, IPCQ_URL=self.url)
        r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)]
                           + list(args), env=env, capture_output=True,
                           timeout=60)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, "%s: %s\n%s"
                         % (name, out, r.stderr.decode()))
        last = out.splitlines()[-1]
        self.assertTrue(last.endswith(": " + ok), out)
        return out

    def test_producer_consumer(self):
        out = self.run_example("producer_consumer.py", "-p", "3", "-c", "4",
                               "-m", "100")
        self.assertIn("300 received, 0 duplicates, 0 missing", out)
        self.assertEqual(out.count("then end of stream"), 4)

    def test_pool_map(self):
        out = self.run_example("pool_map.py", "-n", "200", "-w", "3")
        self.assertIn("200 results (0 duplicates, 0 missing)", out)

    def test_pool_map_kill_one(self):
        out = self.run_example("pool_map.py", "-n", "200", "-w", "3",
                               "--kill-one")
        self.assertIn("killed worker pid", out)
        self.assertIn("redelivered 1", out)
        self.assertIn("0 missing", out)

    @unittest.skipUnless(os.path.exists(os.path.join(C_EXAMPLES,
                                                     "tcp_worker")),
                         "C examples not built")
    def test_pool_map_c_workers_kill_one(self):
        out = self.run_example("pool_map.py", "-n", "200", "-w", "3",
                               "--kill-one", "--c-workers", C_EXAMPLES)
        self.assertIn("for 3 C workers", out)
        self.assertIn("redelivered 1", out)

    def test_files(self):
        out = self.run_example("files.py", "-k", "12", "-w", "3")
        self.assertIn("12/12 files upper-cased", out)

    def test_asyncio_gather(self):
        out = self.run_example("asyncio_gather.py", "-p", "3", "-c", "5",
                               "-m", "100")
        self.assertIn("300 gathered, 0 duplicates, 0 missing", out)
        self.assertEqual(out.count("consumer coroutine"), 5)


if __name__ == "__main__":
    unittest.main()
