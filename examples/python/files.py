#!/usr/bin/env python3
"""Concurrent file processing: worker processes read the files named on a
queue and return the processed (upper-cased) text on another queue.

    files.py [-k K] [-w W] [--dir DIR]

The driver writes K small text files into a new temporary directory (or
DIR), starts W workers (this script with --worker, via subprocess), sends
the paths on the todo queue and ends it. Each worker takes a path in
explicit-ack mode, reads the file, sends {"path", "text": upper-cased} as
JSON on the done queue, then acks; at end of stream it ends its done
stream (expected_producers=W). The driver collects until end of stream
and checks every file's text; it removes what it wrote.
Exit 0 only if all K files came back correctly upper-cased.
Broker: $IPCQ_URL, else the default address.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import ipcq


def worker(a):
    n = 0
    with ipcq.Client() as c:
        todo = c.queue(a.todo, role="consumer", ack="explicit")
        done = c.queue(a.done, role="producer", expected_producers=a.workers)
        for msg in todo:
            with open(msg.text, encoding="utf-8") as f:
                text = f.read()
            done.send(json.dumps({"path": msg.text, "text": text.upper(),
                                  "worker": os.getpid()}))
            todo.ack(msg)
            n += 1
        done.end()
    print("files worker[%d]: upper-cased %d files" % (os.getpid(), n),
          flush=True)


def write_files(d, k):
    want = {}
    for i in range(k):
        path = os.path.join(d, "file-%03d.txt" % i)
        text = "file %d: the quick brown fox jumps over the lazy dog\n" \
               "line two of file %d, ünïcödé too\n" % (i, i)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        want[path] = text.upper()
    return want


def main(a):
    d = a.dir or tempfile.mkdtemp(prefix="ipcq-files-")
    try:
        want = write_files(d, a.k)
        with ipcq.Client() as c:
            done = c.queue(a.done, role="consumer",
                           expected_producers=a.workers)
            todo = c.queue(a.todo, role="producer")
            cmd = [sys.executable, os.path.abspath(__file__), "--worker",
                   "-w", str(a.workers), "--todo", a.todo, "--done", a.done]
            procs = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
                     for _ in range(a.workers)]
            todo.send_many(sorted(want))
            todo.end()
            got = {}
            for msg in done:            # until all W workers have ended
                r = json.loads(msg.text)
                got[r["path"]] = r["text"]
                print("files: %s upper-cased by pid %d"
                      % (os.path.basename(r["path"]), r["worker"]),
                      flush=True)
            ok = all(p.wait(timeout=30) == 0 for p in procs)
            c.delete(a.todo)
            c.delete(a.done)
    finally:
        if a.dir:
            for i in range(a.k):
                p = os.path.join(d, "file-%03d.txt" % i)
                if os.path.exists(p):
                    os.unlink(p)
        else:
            shutil.rmtree(d, ignore_errors=True)
    right = sum(1 for p, t in want.items() if got.get(p) == t)
    ok = ok and right == a.k and len(got) == a.k
    print("files: %d/%d files upper-cased by %d workers and verified: %s"
          % (right, a.k, a.workers, "OK" if ok else "FAILED"))
    return 0 if ok else 1


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", type=int, default=12, help="number of files")
    ap.add_argument("-w", "--workers", type=int, default=3)
    ap.add_argument("--dir", help="write the files here (default: a new "
                                  "temporary directory)")
    ap.add_argument("--todo", default="files.todo.%d" % os.getpid())
    ap.add_argument("--done", default="files.done.%d" % os.getpid())
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not (1 <= a.k <= 1000 and 1 <= a.workers <= 64):
        ap.error("K must be in 1..1000 and W in 1..64")
    return a


if __name__ == "__main__":
    args = parse()
    sys.exit(worker(args) if args.worker else main(args))
