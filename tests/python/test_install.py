"""`pip install ./python` into a virtualenv made with --system-site-packages
on Debian's Python, with no network (--no-index), then use it against a
real broker from outside the source tree."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from ipcq_testlib import BrokerTestCase

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir,
                                   os.pardir))


@unittest.skipUnless(shutil.which("protoc"), "protoc not installed")
class PipInstall(BrokerTestCase):
    def test_pip_install_offline_into_venv(self):
        tmp = tempfile.mkdtemp(prefix="ipcq-venv-")
        try:
            # A copy, so the build leaves nothing in the source tree.
            pkg = os.path.join(tmp, "python")
            shutil.copytree(os.path.join(SRC, "python"), pkg,
                            ignore=shutil.ignore_patterns(
                                "build", "*.egg-info", "ipcq_pb2.py",
                                "__pycache__"))
            venv = os.path.join(tmp, "v")
            subprocess.run([sys.executable, "-m", "venv",
                            "--system-site-packages", venv], check=True)
            env = dict(os.environ,
                       IPCQ_PROTO=os.path.join(SRC, "proto", "ipcq.proto"),
                       PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
            env.pop("PYTHONPATH", None)   # only what pip installed
            r = subprocess.run([os.path.join(venv, "bin", "pip"), "install",
                                "--no-build-isolation", "--no-index", pkg],
                               env=env, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            script = ("import ipcq, sys\n"
                      "with ipcq.Client(sys.argv[1]) as c:\n"
                      "    q = c.queue('venv')\n"
                      "    q.send('from the venv'); q.end()\n"
                      "    print([m.text for m in q])\n")
            r = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                script, self.url], env=env, cwd=tmp,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "['from the venv']")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
