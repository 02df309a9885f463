"""Build hook: generate ipcq/ipcq_pb2.py from proto/ipcq.proto with protoc
when it is not already there (it is never committed). The metadata is in
pyproject.toml.

protoc (Debian: protobuf-compiler) must be on PATH, or named by $PROTOC.
The schema is looked up as $IPCQ_PROTO, else ../proto/ipcq.proto next to
this directory (the source tree layout), so build from a checkout:
    pip install --no-build-isolation ./python
"""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def find_proto():
    cand = os.environ.get("IPCQ_PROTO") or os.path.join(
        HERE, os.pardir, "proto", "ipcq.proto")
    if not os.path.isfile(cand):
        raise SystemExit("ipcq: cannot find ipcq.proto (looked for %s; "
                         "set IPCQ_PROTO)" % cand)
    return os.path.abspath(cand)


class BuildPyWithProtoc(build_py):
    def run(self):
        super().run()
        out = os.path.join(self.build_lib, "ipcq")
        if os.path.exists(os.path.join(HERE, "ipcq", "ipcq_pb2.py")) or \
                os.path.exists(os.path.join(out, "ipcq_pb2.py")):
            return
        protoc = os.environ.get("PROTOC") or shutil.which("protoc")
        if not protoc:
            raise SystemExit("ipcq: protoc not found on PATH (Debian: "
                             "apt-get install protobuf-compiler), or set "
                             "PROTOC")
        proto = find_proto()
        os.makedirs(out, exist_ok=True)
        subprocess.check_call([protoc, "--python_out=" + out,
                               "-I", os.path.dirname(proto), proto])


setup(cmdclass={"build_py": BuildPyWithProtoc})
