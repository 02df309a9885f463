"""Test helpers: a real ipcqd per test, in its own temporary directory.

The broker binary comes from $IPCQ_TEST_BROKER (CTest sets it), the CLI
from $IPCQ_TEST_CLI. The broker is started with --ready-fd and waited for
on that pipe (never a sleep); stop() sends SIGTERM and checks exit 0.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

BROKER = os.environ.get("IPCQ_TEST_BROKER")
CLI = os.environ.get("IPCQ_TEST_CLI")

def free_tcp_port():
    """A port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """An ipcqd on ipc://<tmpdir>/s.sock, optionally also on tcp://."""

    def __init__(self, tcp=False, ready_timeout=10.0):
        if not BROKER:
            raise unittest.SkipTest("IPCQ_TEST_BROKER not set")
        self.dir = tempfile.mkdtemp(prefix="ipcq-py-")
        self.url = "ipc://%s/s.sock" % self.dir
        self.tcp_url = None
        args = [BROKER, "--listen", self.url]
        if tcp:
            self.tcp_url = "tcp://127.0.0.1:%d" % free_tcp_port()
            args += ["--listen", self.tcp_url]
        self._args = args
        self.stderr = open(os.path.join(self.dir, "broker.log"), "w+b")
        try:
            self._start(ready_timeout)
        except BaseException:
            self._cleanup()
            raise

    def _start(self, ready_timeout=10.0):
        rfd, wfd = os.pipe()
        args = self._args + ["--ready-fd", str(wfd), "--log-level", "warn"]
        try:
            self.proc = subprocess.Popen(args, pass_fds=(wfd,),
                                         stdin=subprocess.DEVNULL,
                                         stderr=self.stderr)
        finally:
            os.close(wfd)
        try:
            self._wait_ready(rfd, ready_timeout)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            os.close(rfd)

    def _wait_ready(self, rfd, timeout):
        got = b""
        while b"\n" not in got:
            r, _, _ = select.select([rfd], [], [], timeout)
            if not r:
                raise RuntimeError("broker not READY within %ss" % timeout)
            chunk = os.read(rfd, 64)
            if not chunk:
                raise RuntimeError("broker exited before READY: %r"
                                   % self.log())
            got += chunk
        if got != b"READY\n":
            raise RuntimeError("unexpected ready line %r" % got)

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def _terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "hung"

    def restart(self):
        """Stop (returns that exit status) and start a new broker on the
        same addresses: every connection drops; queues that held messages
        or leases are kept and adopted, empty ones are gone."""
        rc = self._terminate()
        self._start()
        return rc

    def stop(self):
        """SIGTERM; returns the exit status (tests expect 0)."""
        rc = self._terminate()
        self._cleanup()
        return rc

    def segments(self):
        """This broker's names in /dev/shm (its segments are named after
        its first address: docs/shm.md)."""
        h = 1469598103934665603                  # FNV-1a 64, as the broker
        for b in self.url.encode():
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
        prefix = "ipcq-%d-%016x-" % (os.geteuid(), h)
        return [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]

    def _cleanup(self):
        # A clean stop keeps the queues that still hold messages (for
        # the next start): the test is over, remove them.
        for n in self.segments():
            try:
                os.unlink(os.path.join("/dev/shm", n))
            except OSError:
                pass
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args, url=None, input=None, timeout=30):
        """Run the ipcq command line against this broker."""
        if not CLI:
            raise unittest.SkipTest("IPCQ_TEST_CLI not set")
        return subprocess.run([CLI, "-u", url or self.url] + list(args),
                              input=input, capture_output=True,
                              timeout=timeout)


class BrokerTestCase(unittest.TestCase):
    """Each test gets self.broker (and self.url); tearDown checks the
    broker exits 0 on SIGTERM."""

    tcp = False

    def setUp(self):
        self.broker = Broker(tcp=self.tcp)
        self.url = self.broker.url
        self._clients = []

    def client(self, url=None, **kw):
        import ipcq
        c = ipcq.Client(url or self.url, **kw)
        self._clients.append(c)
        return c

    def tearDown(self):
        for c in self._clients:
            c.close()
        log = self.broker.log()
        rc = self.broker.stop()
        self.assertEqual(rc, 0, "broker exit status; log:\n" + log)
