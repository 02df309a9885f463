#!/usr/bin/env python3
"""Pool.map across processes: squares of 1..N with a tasks queue, a
results queue and W worker processes - including a worker killed mid-way.

    pool_map.py [-n N] [-w W] [--kill-one] [--c-workers DIR]

This process (the driver) opens the results queue with
expected_producers=W, starts W workers (this script with --worker, via
subprocess), sends 1..N on the tasks queue and ends it. Each worker takes
a task in explicit-ack mode, sends "n n*n" on the results queue and only
then acks the task; at end of stream on tasks it ends its results stream.
The results queue ends when all W workers have ended.

--kill-one: worker 0 takes one task, reports it and holds it unacked; the
driver SIGKILLs it. The broker sees the connection drop and redelivers the
task to another worker; the driver starts a replacement worker (which ends
one results stream in place of the dead one), and the result is complete.

--c-workers DIR: the workers are the C programs DIR/pool_worker (and
DIR/tcp_worker --hold-after for the victim) - same queues, same protocol.

Prints what happened and the tasks queue's statistics (redelivered).
Exit 0 only if every square arrived and the sum is N(N+1)(2N+1)/6.
Broker: $IPCQ_URL, else the default address.
"""

import argparse
import os
import re
import select
import signal
import subprocess
import sys
import time

import ipcq

HOLD_RE = re.compile(rb"\[(\d+)\]: holding task (\d+)")


def worker(a):
    pid = os.getpid()
    done = 0
    with ipcq.Client() as c:
        tasks = c.queue(a.tasks, role="consumer", ack="explicit")
        results = c.queue(a.results, role="producer")
        for msg in tasks:
            if a.hold_after is not None and done == a.hold_after:
                print("pool_map worker[%d]: holding task %s"
                      % (pid, msg.text), flush=True)
                sys.stdin.read()        # until killed (or the driver exits)
                os._exit(1)             # never acks
            if msg.redelivered:
                print("pool_map worker[%d]: task %s was redelivered "
                      "(delivery %d)" % (pid, msg.text, msg.delivery_count),
                      flush=True)
            n = int(msg.text)
            results.send("%d %d" % (n, n * n))
            tasks.ack(msg)              # done only once the result is out
            done += 1
        results.end()
    print("pool_map worker[%d]: squared %d numbers" % (pid, done), flush=True)


class Driver:
    def __init__(self, a):
        self.a = a
        self.procs = []                 # every worker ever started
        self.replaced = set()

    def command(self, hold=False):
        a = self.a
        if a.c_workers:
            if hold:
                return [os.path.join(a.c_workers, "tcp_worker"),
                        "--hold-after", "1", a.tasks, a.results]
            return [os.path.join(a.c_workers, "pool_worker"), a.tasks,
                    a.results]
        cmd = [sys.executable, os.path.abspath(__file__), "--worker",
               "--tasks", a.tasks, "--results", a.results]
        return cmd + (["--hold-after", "1"] if hold else [])

    def start(self, hold=False):
        kw = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE} \
            if hold else {"stdin": subprocess.DEVNULL}
        p = subprocess.Popen(self.command(hold), **kw)
        self.procs.append(p)
        return p

    def wait_holder(self, victim):
        """The victim's "holding task N" line: (pid, N), or None."""
        r, _, _ = select.select([victim.stdout], [], [], 30)
        line = victim.stdout.readline() if r else b""
        m = HOLD_RE.search(line)
        if not m:
            print("pool_map: the victim never held a task: %r" % line)
            return None
        print("pool_map: worker pid %s holds task %s (unacked)"
              % (m.group(1).decode(), m.group(2).decode()), flush=True)
        return m.group(2).decode()

    def kill(self, victim, held):
        """SIGKILL the victim mid-task and replace it."""
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        print("pool_map: killed worker pid %d (SIGKILL) while it held task "
              "%s" % (victim.pid, held), flush=True)
        self.replace_dead()
        return held is not None

    def replace_dead(self):
        """Start a replacement for each worker that died: the results
        queue still needs W ended producers."""
        for p in list(self.procs):
            if p.poll() not in (None, 0) and p.pid not in self.replaced \
                    and len(self.replaced) < self.a.workers:
                self.replaced.add(p.pid)
                q = self.start()
                print("pool_map: worker pid %d died (status %d); started "
                      "pid %d in its place" % (p.pid, p.returncode, q.pid),
                      flush=True)

    def collect(self, results):
        """Receive until end of stream; {n: n*n} and the duplicates."""
        got, dups = {}, 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                msgs = results.recv_many(max=1000, timeout=0.5)
            except ipcq.EndOfStream:
                return got, dups
            except (ipcq.Timeout, ipcq.StreamAbandoned):
                self.replace_dead()     # a worker left without ending
                time.sleep(0.05)        # back off while one starts
                continue
            for m in msgs:
                n, sq = map(int, m.text.split())
                dups += n in got
                got[n] = sq
        raise SystemExit("pool_map: no end of stream within 60 s")


def main(a):
    d = Driver(a)
    n = a.n
    with ipcq.Client() as c:
        results = c.queue(a.results, role="consumer",
                          expected_producers=a.workers)
        tasks = c.queue(a.tasks, role="producer")
        # The victim starts first, so that it surely gets a task to hold.
        victim = d.start(hold=True) if a.kill_one else None
        tasks.send_many(str(i) for i in range(1, n + 1))
        tasks.end()
        print("pool_map: sent 1..%d for %d %s workers and ended the tasks"
              % (n, a.workers, "C" if a.c_workers else "Python"), flush=True)
        held = d.wait_holder(victim) if victim else None
        for _ in range(a.workers - (1 if victim else 0)):
            d.start()
        ok = d.kill(victim, held) if victim else True
        got, dups = d.collect(results)
        st = c.stats(a.tasks)
        for p in d.procs:
            p.wait(timeout=30)
        c.delete(a.tasks)
        c.delete(a.results)
    total, want = sum(got.values()), n * (n + 1) * (2 * n + 1) // 6
    missing = n - len(set(got) & set(range(1, n + 1)))
    wrong = sum(1 for k, v in got.items() if v != k * k)
    ok = ok and missing == 0 and wrong == 0 and total == want
    if a.kill_one:
        ok = ok and st["redelivered"] >= 1
    print("pool_map: tasks queue: sent %d, delivered %d, acked %d, "
          "redelivered %d" % (st["sent"], st["received"], st["acked"],
                              st["redelivered"]))
    print("pool_map: %d results (%d duplicates, %d missing), sum of squares "
          "%d, expected %d: %s" % (len(got), dups, missing, total, want,
                                   "OK" if ok else "MISMATCH"))
    return 0 if ok else 1


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100, help="tasks 1..N")
    ap.add_argument("-w", "--workers", type=int, default=4)
    ap.add_argument("--kill-one", action="store_true",
                    help="SIGKILL one worker while it holds a task")
    ap.add_argument("--c-workers", metavar="DIR",
                    help="use DIR/pool_worker (C) as the workers")
    ap.add_argument("--tasks", default="pm.tasks.%d" % os.getpid())
    ap.add_argument("--results", default="pm.results.%d" % os.getpid())
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--hold-after", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not (1 <= a.n <= 100000 and 1 <= a.workers <= 64):
        ap.error("N must be in 1..100000 and W in 1..64")
    if a.kill_one and a.n < 2:
        ap.error("--kill-one needs N >= 2 (the victim does one task, "
                 "then holds one)")
    return a


if __name__ == "__main__":
    args = parse()
    if args.worker:
        worker(args)
    else:
        sys.exit(main(args))
