#!/usr/bin/python3
"""py.mpqueue peer of ipcq-bench (docs/bench.md, "Comparison peers").

P producer processes put bytes messages on one multiprocessing.Queue, C
consumer processes get them; after the producers have exited the parent
puts C None sentinels. Every message carries the same 16-byte header as
the C cases (magic, producer id, sequence number, little-endian) and the
same byte pattern; each consumer checks the header, the last byte and
that each producer's numbers arrive strictly rising, and reports per
producer the count, sum and sum of squares of the numbers; the parent
holds those against what each producer sent (so a loss and a duplicate
cannot cancel out).

usage: py_mpqueue.py size=N p=N c=N dur_ms=N count=N
prints one line: "msgs=N secs=S calls=N" or "err=WHY" (exit 1).
Timing: CLOCK_MONOTONIC, earliest producer start to latest consumer's
last message, as in the C cases.
"""
import multiprocessing as mp
import struct
import sys
import time

MAGIC = 0x71637069
HDR = struct.Struct("<IIQ")


def pattern(size):
    return bytes((i * 31 + 7) & 0xFF for i in range(size))


def producer(q, res, pid, size, count, dur_ns, go):
    body = pattern(size)[HDR.size:]
    go.wait()
    t0 = time.monotonic_ns()
    seq = 0
    while (seq < count) if count else (time.monotonic_ns() - t0 < dur_ns):
        q.put(HDR.pack(MAGIC, pid, seq) + body)
        seq += 1
    res.put(("p", pid, seq, t0))


def consumer(q, res, cid, nprod, size, go):
    last = (size - 1) * 31 + 7 & 0xFF
    nxt = [0] * nprod
    tally = [[0, 0, 0] for _ in range(nprod)]
    err = ""
    tl = 0
    n = 0
    go.wait()
    while True:
        m = q.get(timeout=30)
        if m is None:
            break
        magic, pid, seq = HDR.unpack_from(m)
        if (len(m) != size or magic != MAGIC or pid >= nprod
                or m[-1] != last or seq < nxt[pid]):
            err = err or "bad_message(prod=%d,seq=%d)" % (pid, seq)
            continue
        nxt[pid] = seq + 1
        t = tally[pid]
        t[0] += 1
        t[1] += seq
        t[2] += seq * seq
        n += 1
        tl = time.monotonic_ns()
    res.put(("c", cid, tally, tl, n, err))


def expect(sent):
    n = sent
    return [n, n * (n - 1) // 2, (n - 1) * n * (2 * n - 1) // 6]


def run(a):
    size, p, c = a["size"], a["p"], a["c"]
    q = mp.Queue(maxsize=16 if size >= (1 << 20) else 1000)
    res = mp.Queue()
    go = mp.Event()
    cons = [mp.Process(target=consumer, args=(q, res, i, p, size, go))
            for i in range(c)]
    prods = [mp.Process(target=producer,
                        args=(q, res, i, size, a["count"] // p,
                              a["dur_ms"] * 1000000, go))
             for i in range(p)]
    for w in cons + prods:
        w.start()
    go.set()
    for w in prods:
        w.join()
    for _ in range(c):
        q.put(None)
    out = [res.get(timeout=60) for _ in range(p + c)]
    for w in cons:
        w.join()
    return verify(out, p)


def verify(out, p):
    sent = {r[1]: r[2] for r in out if r[0] == "p"}
    t0 = min(r[3] for r in out if r[0] == "p")
    cons = [r for r in out if r[0] == "c"]
    for r in cons:
        if r[5]:
            return "err=consumer%d:%s" % (r[1], r[5])
    for pid in range(p):
        got = [sum(r[2][pid][k] for r in cons) for k in range(3)]
        if got != expect(sent[pid]):
            return "err=producer%d_sent=%d_consumers_got=%d" % (
                pid, sent[pid], got[0])
    tl = max(r[3] for r in cons)
    total = sum(sent.values())
    if total == 0 or tl <= t0:
        return "err=no_messages_moved"
    return "msgs=%d secs=%.6f calls=%d" % (total, (tl - t0) / 1e9, total)


def main():
    a = {"size": 64, "p": 1, "c": 1, "dur_ms": 1000, "count": 0}
    for kv in sys.argv[1:]:
        k, _, v = kv.partition("=")
        if k not in a:
            print("err=bad_argument_%s" % k)
            return 2
        a[k] = int(v)
    line = run(a)
    print(line, flush=True)
    return 1 if line.startswith("err=") else 0


if __name__ == "__main__":
    sys.exit(main())
