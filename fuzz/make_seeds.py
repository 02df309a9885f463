#!/usr/bin/env python3
"""Write the seed corpus of the fuzz targets (docs/testing.md, "Fuzzing").

    python3 fuzz/make_seeds.py          # rewrites fuzz/corpus/{request,segment,cli}/seed-*

The seeds are committed; this script says how they were made, and makes
them again after a format change (wire protocol, segment layout, the
targets' input formats in fuzz/*.c). Inputs the fuzzers found are kept
beside the seeds under other names (crash-*, leak-*, ...) and are never
touched here. Standard library only: the protobuf encoding is done by
hand for the few messages needed.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- protobuf


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fv(field, n):  # varint field
    return varint(field << 3) + varint(n)


def fb(field, data):  # length-delimited field
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def request(body_field, body):
    return fv(1, 1) + fb(body_field, body)


H1 = (1 << 60) | 1  # handle ids under the fuzz broker's fixed epoch
H2 = (1 << 60) | 2
H3 = (1 << 60) | 3


def open_(queue, roles=0, ack=0, opts=b"", declare=False):
    body = fb(1, queue)
    if roles:
        body += fv(2, roles)
    if ack:
        body += fv(3, ack)
    if opts:
        body += fb(4, opts)
    if declare:
        body += fv(5, 1)
    return request(2, body)


def qopts(max_messages=0, max_bytes=0, max_message_bytes=0, policy=0,
          expected=0, durable=False):
    o = b""
    for f, v in ((1, max_messages), (2, max_bytes), (3, max_message_bytes),
                 (4, policy), (5, expected), (6, int(durable))):
        if v:
            o += fv(f, v)
    return o


def send(handle, payloads, timeout_ms=0):
    body = fv(1, handle) + b"".join(fb(2, p) for p in payloads)
    if timeout_ms:
        body += fv(3, timeout_ms)
    return request(3, body)


def recv(handle, max_messages=1, timeout_ms=0):
    body = fv(1, handle) + fv(2, max_messages)
    if timeout_ms:
        body += fv(3, timeout_ms)
    return request(4, body)


def ack(handle, ids, requeue=False):
    body = fv(1, handle) + b"".join(fv(2, i) for i in ids)
    if requeue:
        body += fv(3, 1)
    return request(5, body)


def by_handle(field, handle):
    return request(field, fv(1, handle))


def by_name(field, queue):
    return request(field, fb(1, queue))


def wait(handle, timeout_ms=0, past_abandoned=False):
    body = fv(1, handle) + (fv(2, timeout_ms) if timeout_ms else b"")
    if past_abandoned:
        body += fv(3, 1)
    return request(13, body)


def frames(*fs):
    """fuzz_request input: (flags, request) pairs."""
    out = b""
    for flags, req in fs:
        out += bytes([flags]) + struct.pack("<H", len(req)) + req
    return out


def request_seeds():
    small = qopts(max_messages=2, max_bytes=64, max_message_bytes=16,
                  policy=1)
    block = qopts(max_messages=1, max_bytes=64, max_message_bytes=32)
    drop = qopts(max_messages=2, max_bytes=64, max_message_bytes=16,
                 policy=2)
    return {
        "open-send-recv": frames((0, open_("jobs", 3)),
                                 (0, send(H1, [b"a", b"bc"])),
                                 (0, recv(H1, 2))),
        "explicit-ack": frames((0, open_("q", 3, 1)),
                               (0, send(H1, [b"x", b"y"])),
                               (0, recv(H1, 2)), (0, ack(H1, [1, 2])),
                               (0, ack(H1, [1]))),
        "nack-redeliver": frames((0, open_("q", 3, 1)),
                                 (0, send(H1, [b"x"])), (0, recv(H1)),
                                 (0, ack(H1, [1], True)), (0, recv(H1))),
        "two-pipes": frames((0, open_("q", 1)), (1, open_("q", 2, 1)),
                            (0, send(H1, [b"m1", b"m2"])),
                            (1, recv(H2, 1)), (5, recv(H2, 1, 1000)),
                            (0, send(H1, [b"m3"]))),
        "end-eof": frames((0, open_("q", 1, opts=qopts(expected=2))),
                          (1, open_("q", 2)), (0, send(H1, [b"z"])),
                          (0, by_handle(6, H1)), (1, recv(H2, 4)),
                          (1, recv(H2, 4, -1 & 0xFFFFFFFF))),
        "parked-recv-timer": frames((0, open_("q", 2)),
                                    (0, recv(H1, 1, 50)),
                                    (1, open_("q", 1)),
                                    (3, send(H2, [b"late"]))),
        "parked-send-full": frames((0, open_("f", 3, opts=block)),
                                   (0, send(H1, [b"1"])),
                                   (1, open_("f", 2)),
                                   (0, send(H1, [b"2"], 100)),
                                   (0, send(H1, [b"3"], -1)),
                                   (1, recv(H2, 1)), (1, recv(H2, 1))),
        "full-fail": frames((0, open_("f", 3, opts=small)),
                            (0, send(H1, [b"1", b"2", b"3"])),
                            (0, send(H1, [b"x" * 17]))),
        "drop-oldest": frames((0, open_("d", 3, opts=drop)),
                              (0, send(H1, [b"1", b"2", b"3", b"4"])),
                              (0, recv(H1, 8))),
        "declare-mismatch": frames((0, open_("q", opts=small)),
                                   (0, open_("q", opts=drop, declare=True))),
        "admin": frames((0, open_("a", 3)), (0, send(H1, [b"p"])),
                        (0, request(10, b"")), (0, by_name(9, "")),
                        (0, by_name(9, "a")), (0, by_name(11, "a")),
                        (0, by_name(12, "a")), (0, recv(H1))),
        "shutdown": frames((0, open_("s", 2)), (0, recv(H1, 1, 100)),
                           (0, by_name(8, "s")), (0, recv(H1))),
        "wait": frames((0, open_("w", 2)), (0, wait(H1, 200)),
                       (1, open_("w", 1)), (1, send(H2, [b"!"])),
                       (0, wait(H1, 0, True))),
        "detach": frames((0, open_("q", 3, 1)), (0, send(H1, [b"1"])),
                         (0, recv(H1)), (0, by_handle(7, H1)),
                         (0, recv(H1))),
        "bad-input": frames((0, b"\xff\xff\xff"), (0, fv(1, 7)),
                            (0, fv(1, 1)), (0, open_("../etc")),
                            (0, open_("x" * 129)),
                            (0, open_("q", opts=qopts(durable=True))),
                            (0, send(H3, [b"no handle"]))),
        "hangup-parked": frames((0, open_("q", 3, 1)),
                                (0, send(H1, [b"1"])), (0, recv(H1)),
                                (4, recv(H1, 1, 0x7FFFFFFF))),
    }

# ----------------------------------------------------------------- segment

HDR = 4096
REC = 32


def rec(state, payload=b"", holder=0, lease=0, deliveries=0, size=None):
    """A record; with size given, only its header and payload (a size
    that lies)."""
    body = struct.pack("<IIIIQQ", size or 0, state, len(payload), deliveries,
                       holder, lease) + payload
    if size is not None:
        return body
    size = (REC + len(payload) + 31) // 32 * 32
    body = struct.pack("<I", size) + body[4:]
    return body + b"\0" * (size - len(body))


def seg_header(head, tail, scan, ready=0, ready_bytes=0, leased=0,
               leased_bytes=0, writing=0, writing_bytes=0, next_lease=1,
               qstate=0):
    """Header bytes 320..511 (positions, counters, state), as the target
    lays them over the header."""
    h = bytearray(192)
    struct.pack_into("<16Q", h, 0, head, tail, scan, ready, ready_bytes,
                     leased, leased_bytes, writing, writing_bytes,
                     next_lease, 0, 0, 0, 0, 0, 0)
    struct.pack_into("<I", h, 448 - 320, qstate)
    return bytes(h)


def raw_header(ring, max_messages, max_bytes, max_message_bytes, policy):
    """Header bytes 0..255 as the broker writes them (flags bit 0)."""
    h = bytearray(256)
    struct.pack_into("<IIIIQQQQ", h, 0, 0x53514349, 1, HDR, REC, HDR + ring,
                     ring, 0, 0)
    h[48:52] = b"fuzz"
    struct.pack_into("<QQII", h, 184, max_messages, max_bytes,
                     max_message_bytes, policy)
    return bytes(h)


def segment(ctrl, ops, header, ring=b""):
    nops = len(ops)
    ctrl = bytes(ctrl[:7]) + bytes([nops])
    return ctrl + b"".join(ops) + header + ring


def op(code, arg=0, extra=0):
    return bytes([code]) + struct.pack("<H", arg) + bytes([extra])


def segment_seeds():
    # max_messages 4, max_bytes 256, max_message_bytes 64, policy fail:
    # ring = 256 + 4*63 + 96 -> 608 rounded to 608.
    ctrl = [3, 0, 1, 63, 0, 1, 0]
    recs = (rec(2, b"hello") + rec(3, b"leased", holder=2, lease=1,
                                   deliveries=1) +
            rec(1, b"wr", holder=1) + rec(4, b"done") + rec(2, b"x" * 40))
    n = len(recs)
    take_all = [op(0, 0, i) for i in range(4)]
    return {
        "empty": segment(ctrl, [op(5, 10), op(0), op(2)],
                         seg_header(0, 0, 0)),
        "records": segment(ctrl, take_all + [op(2, 0, 0), op(3, 0, 1),
                                             op(10), op(9)],
                           seg_header(0, n, 0, 2, 45, 1, 6, 1, 2, 2), recs),
        "wrapped": segment(ctrl, [op(5, 30), op(5, 40), op(0), op(12, 0x21),
                                  op(8), op(6, 20, 1), op(13, 5)],
                           seg_header(544, 608 + 64, 544) ,
                           rec(2, b"after-wrap") + b"\0" * (544 - 64) +
                           rec(5, size=64) + b"\0" * 32),
        # A READY record that ends exactly at the end of the ring (tail
        # and counters derived from the records: flags bit 1).
        "ring-end": segment(ctrl[:6] + [2], [op(0), op(2), op(5, 20), op(0)],
                            seg_header(544, 608, 544, 1, 32),
                            b"\0" * 544 + rec(2, b"e" * 32)),
        "lying-counters": segment(ctrl, [op(0), op(11), op(7, 0, 2),
                                         op(4, 0, 0)],
                                  seg_header(0, n, 0, 9, 9999, 0, 0, 0, 0),
                                  recs),
        "bad-record": segment(ctrl, [op(10), op(0)],
                              seg_header(0, 64, 0, 1, 1),
                              rec(2, b"a", size=4096) + rec(9, b"b")),
        "raw-header": segment([3, 0, 1, 63, 0, 1, 1], [op(5, 8), op(0)],
                              raw_header(608, 4, 256, 64, 1) +
                              seg_header(0, 0, 0)),
    }

# --------------------------------------------------------------------- cli


def cli_seeds():
    def argv(*a):
        return b"\0".join(x.encode() for x in a)
    return {
        "send": argv("send", "-t", "1000", "-P", "2", "jobs", "m1", "m2"),
        "send-end": argv("-u", "ipc:///tmp/x.sock", "send", "--end", "q"),
        "recv": argv("recv", "-n", "5", "--timeout=-1", "--ack", "q"),
        "recv-bad-n": argv("recv", "-n", "0", "q"),
        "timeout-range": argv("send", "--timeout", "99999999999", "q"),
        "stats": argv("stats", "--url", "tcp://127.0.0.1:5555", "q"),
        "top": argv("top", "--count", "3", "--interval", "100"),
        "help": argv("help", "recv"),
        "admin": argv("purge", "q", "extra"),
        "unknown": argv("-V", "frobnicate", "--nope"),
        "missing-arg": argv("end", "-P"),
    }


def main():
    for target, seeds in (("request", request_seeds()),
                          ("segment", segment_seeds()),
                          ("cli", cli_seeds())):
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name in os.listdir(d):
            if name.startswith("seed-"):
                os.remove(os.path.join(d, name))
        for name, data in seeds.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
