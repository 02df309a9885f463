#!/usr/bin/env python3
"""asyncio consumers gathering results concurrently (ipcq.aio).

    asyncio_gather.py [-p P] [-c C] [-m M] [--queue NAME]

P producer processes (this script with --producer, started with
asyncio.create_subprocess_exec) each send M results "<producer> <seq>"
and end their stream; the queue is opened with expected_producers=P. In
this process, C consumer coroutines share ONE ipcq.aio client (one
connection, many requests in flight), each with its own handle, and
`async for msg in q` until end of stream; asyncio.gather runs them and
the producer processes concurrently and collects what each consumer got.
Exit 0 only if every result arrived exactly once.
Broker: $IPCQ_URL, else the default address.
"""

import argparse
import asyncio
import os
import sys

import ipcq
import ipcq.aio


def producer(a):
    with ipcq.Client() as c:
        q = c.queue(a.queue, role="producer", expected_producers=a.producers)
        q.send_many("%d %d" % (a.producer, i) for i in range(a.count))
        q.end()


async def consume(client, a, i):
    q = await client.queue(a.queue, role="consumer",
                           expected_producers=a.producers)
    got = []
    async for msg in q:             # stops at end of stream
        got.append(msg.text)
    await q.close()
    return got


async def run_producer(a, i):
    p = await asyncio.create_subprocess_exec(
        sys.executable, os.path.abspath(__file__), "--producer", str(i),
        "-p", str(a.producers), "-m", str(a.count), "--queue", a.queue)
    return await p.wait()


async def main(a):
    async with await ipcq.aio.Client.connect() as c:
        consumers = [consume(c, a, i) for i in range(a.consumers)]
        producers = [run_producer(a, i) for i in range(a.producers)]
        out = await asyncio.gather(*consumers, *producers)
        await c.delete(a.queue)
    lists, codes = out[:a.consumers], out[a.consumers:]
    seen = {}
    for i, got in enumerate(lists):
        print("asyncio_gather: consumer coroutine %d got %d results"
              % (i, len(got)))
        for t in got:
            seen[t] = seen.get(t, 0) + 1
    want = {"%d %d" % (p, i) for p in range(a.producers)
            for i in range(a.count)}
    dups = sum(n - 1 for n in seen.values())
    missing = len(want - set(seen))
    ok = all(rc == 0 for rc in codes) and dups == 0 and missing == 0 \
        and set(seen) == want
    print("asyncio_gather: %d producer processes x %d, %d coroutines on one "
          "client: %d gathered, %d duplicates, %d missing: %s"
          % (a.producers, a.count, a.consumers, sum(seen.values()), dups,
             missing, "OK" if ok else "FAILED"))
    return 0 if ok else 1


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", "--producers", type=int, default=3)
    ap.add_argument("-c", "--consumers", type=int, default=5)
    ap.add_argument("-m", "--count", type=int, default=200)
    ap.add_argument("--queue", default="aio.%d" % os.getpid())
    ap.add_argument("--producer", type=int, help=argparse.SUPPRESS)
    return ap.parse_args()


if __name__ == "__main__":
    args = parse()
    if args.producer is not None:
        producer(args)
    else:
        sys.exit(asyncio.run(main(args)))
