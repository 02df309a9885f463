#!/usr/bin/env python3
"""Producer/consumer across processes with end of stream: the
multiprocessing `queue.put(None)` pattern, done right.

With multiprocessing.Queue every consumer needs its own sentinel, and
producers must know how many consumers there are. With ipcq each producer
calls q.end() once; the queue is opened with expected_producers=P, so it
ends when the P-th producer ends (however late it starts), and then EVERY
consumer's `for msg in q` loop stops - one end for any number of consumers.

    producer_consumer.py [-p P] [-c C] [-m M] [--queue NAME]

P producer processes each send M items "<producer> <seq>"; C consumer
processes receive until end of stream and report what they got; this
process checks that every item arrived exactly once. The processes are
this script again, started with subprocess (--producer / --consumer).
Broker: $IPCQ_URL, else the default address. Exit 0 only if right.
"""

import argparse
import json
import os
import subprocess
import sys

import ipcq


def producer(args):
    with ipcq.Client() as c:
        q = c.queue(args.queue, role="producer",
                    expected_producers=args.producers)
        q.send_many("%d %d" % (args.producer, i) for i in range(args.count))
        q.end()                  # this producer's sentinel, sent once
    print("producer %d [pid %d]: sent %d items and ended"
          % (args.producer, os.getpid(), args.count), flush=True)


def consumer(args):
    got = []
    with ipcq.Client() as c:
        q = c.queue(args.queue, role="consumer",
                    expected_producers=args.producers)
        for msg in q:            # stops at end of stream, in every consumer
            got.append(msg.text)
    print(json.dumps(got))       # to the parent, on a pipe


def spawn(args, *extra, **kw):
    cmd = [sys.executable, os.path.abspath(__file__), "-p",
           str(args.producers), "-m", str(args.count), "--queue",
           args.queue] + list(extra)
    return subprocess.Popen(cmd, **kw)


def main(args):
    # Consumers first: they wait for the producers.
    cons = [spawn(args, "--consumer", stdout=subprocess.PIPE)
            for _ in range(args.consumers)]
    prods = [spawn(args, "--producer", str(i))
             for i in range(args.producers)]
    ok = all(p.wait(timeout=60) == 0 for p in prods)
    seen = {}
    for i, p in enumerate(cons):
        out, _ = p.communicate(timeout=60)
        ok = ok and p.returncode == 0
        items = json.loads(out or b"[]")
        print("consumer %d: %d items, then end of stream" % (i, len(items)))
        for it in items:
            seen[it] = seen.get(it, 0) + 1
    with ipcq.Client() as c:
        c.delete(args.queue)     # tidy: the names are new each run
    want = {"%d %d" % (p, i) for p in range(args.producers)
            for i in range(args.count)}
    dups = sum(n - 1 for n in seen.values())
    missing = len(want - set(seen))
    ok = ok and dups == 0 and missing == 0 and set(seen) == want
    print("producer_consumer: %d producers x %d items, %d consumers: "
          "%d received, %d duplicates, %d missing, every consumer stopped "
          "at end of stream: %s"
          % (args.producers, args.count, args.consumers, sum(seen.values()),
             dups, missing, "OK" if ok else "FAILED"))
    return 0 if ok else 1


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", "--producers", type=int, default=3)
    ap.add_argument("-c", "--consumers", type=int, default=4)
    ap.add_argument("-m", "--count", type=int, default=200)
    ap.add_argument("--queue", default="pc.%d" % os.getpid(),
                    help="queue name (default: pc.<pid>, new each run)")
    ap.add_argument("--producer", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--consumer", action="store_true",
                    help=argparse.SUPPRESS)
    return ap.parse_args()


if __name__ == "__main__":
    a = parse()
    if a.producer is not None:
        producer(a)
    elif a.consumer:
        consumer(a)
    else:
        sys.exit(main(a))
