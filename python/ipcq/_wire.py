"""What the sync and asyncio clients share: addresses, SP framing, request
building, reply decoding. No I/O happens here.

The transport is nng's SP REQ v0 wire format (docs/protocol.md,
"Transport"): an 8-byte header exchange, then frames of
[type byte 0x01 on ipc only] + 8-byte big-endian length + payload, each
payload a 4-byte request id (high bit set) + one protobuf message.
"""

import os
import random
import re
import struct

from . import errors

try:
    from . import ipcq_pb2 as pb
except ImportError as exc:  # pragma: no cover - packaging problem
    raise ImportError(
        "ipcq: the generated module ipcq/ipcq_pb2.py is missing: build the "
        "package with CMake or `pip install ./python` (both run protoc), "
        "and install python3-protobuf") from exc

PROTOCOL_VERSION = 1

SP_HEADER_REQ = b"\x00SP\x00\x00\x30\x00\x00"
SP_HEADER_REP = b"\x00SP\x00\x00\x31\x00\x00"
IPC_MSG_TYPE = 1

# Reply grace: how long past a request's own timeout the client waits for
# the reply before declaring the connection lost (libipcq's reply_grace_ms).
DEFAULT_REPLY_GRACE = 5.0
DEFAULT_CONNECT_TIMEOUT = 2.0

# Batches are cut like libipcq's: at most 1024 messages and ~4 MiB a frame,
# well below the broker's 16 MiB + 64 KiB request frame limit.
BATCH_MAX_MESSAGES = 1024
BATCH_MAX_BYTES = 4 * 1024 * 1024
RECV_MAX_MESSAGES = 1024
TIMEOUT_MS_MAX = 0x7FFFFFFF

ROLE_AUTO = 0
ROLE_PRODUCER = 1
ROLE_CONSUMER = 2
ACK_AUTO = 0
ACK_EXPLICIT = 1
FULL_BLOCK = 0
FULL_FAIL = 1
FULL_DROP_OLDEST = 2

_ROLES = {"auto": 0, "producer": 1, "consumer": 2, "both": 3}
_ACKS = {"auto": 0, "explicit": 1}
_POLICIES = {"block": 0, "fail": 1, "drop_oldest": 2, "drop-oldest": 2}

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


def default_url():
    """The default broker address, the rule of libipcq and ipcqd:
    $IPCQ_URL if set and non-empty, else ipc://$XDG_RUNTIME_DIR/ipcq/
    ipcqd.sock when XDG_RUNTIME_DIR is absolute, else
    ipc:///tmp/ipcq-$UID/ipcqd.sock."""
    url = os.environ.get("IPCQ_URL")
    if url:
        return url
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and xdg.startswith("/"):
        return "ipc://%s/ipcq/ipcqd.sock" % xdg
    return "ipc:///tmp/ipcq-%d/ipcqd.sock" % os.getuid()


def parse_url(url):
    """("ipc", path) or ("tcp", (host, port)); EINVAL otherwise."""
    if not isinstance(url, str):
        raise errors.EINVAL("URL must be a string")
    if url.startswith("ipc://"):
        path = url[len("ipc://"):]
        if not path or len(path.encode()) > 107:
            raise errors.EINVAL("bad ipc URL: %r" % url)
        return "ipc", path
    if url.startswith("tcp://"):
        host, sep, port = url[len("tcp://"):].rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise errors.EINVAL("bad tcp URL: %r" % url)
        return "tcp", (host, int(port))
    raise errors.EINVAL("unsupported URL (ipc:// or tcp://): %r" % url)


def check_name(name):
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise errors.EBADNAME("invalid queue name %r" % (name,))


def timeout_ms(timeout):
    """Seconds (None or negative: forever) to the wire's int32 ms."""
    if timeout is None or timeout < 0:
        return -1
    if timeout == 0:
        return 0
    return min(TIMEOUT_MS_MAX, max(1, int(round(timeout * 1000))))


def reply_wait(tmo_ms, grace):
    """How long to wait for a reply: the request's timeout + grace
    (None: forever). The broker's timer decides; never resend."""
    if tmo_ms < 0 or grace is None:
        return None
    return tmo_ms / 1000.0 + grace


def enum_value(value, table, what):
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise errors.EINVAL("unknown %s %r" % (what, value)) from None
    if not isinstance(value, int) or value < 0:
        raise errors.EINVAL("bad %s %r" % (what, value))
    return value


def to_bytes(data):
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError("message must be bytes or str, not %s"
                    % type(data).__name__)


class RequestIds:
    """Request ids: high bit set, sequential from a random start (like
    nng's REQ), skipping those still awaiting a reply."""

    def __init__(self):
        self._next = random.getrandbits(31)

    def take(self, pending):
        while True:
            rid = 0x80000000 | self._next
            self._next = (self._next + 1) & 0x7FFFFFFF
            if rid not in pending:
                return rid


def encode_frame(kind, rid, req):
    body = struct.pack(">I", rid) + req.SerializeToString()
    head = struct.pack(">Q", len(body))
    if kind == "ipc":
        head = bytes((IPC_MSG_TYPE,)) + head
    return head + body


def frame_header_size(kind):
    return 9 if kind == "ipc" else 8


def parse_frame_header(kind, head):
    """The payload length from a frame header; EPROTO if malformed."""
    if kind == "ipc":
        if head[0] != IPC_MSG_TYPE:
            raise errors.EPROTO("bad ipc message type %d" % head[0])
        head = head[1:]
    return struct.unpack(">Q", head)[0]


def parse_reply_payload(payload):
    """(request id, Reply or None if undecodable)."""
    if len(payload) < 4:
        return None, None
    rid = struct.unpack(">I", payload[:4])[0]
    rep = pb.Reply()
    try:
        rep.ParseFromString(payload[4:])
    except Exception:  # protobuf's DecodeError; any failure is EPROTO
        return rid, None
    return rid, rep


def new_request():
    return pb.Request(version=PROTOCOL_VERSION)


def check_reply(rep, keep_body=()):
    """Raise the reply's status as an exception. The send/ack bodies
    that errors carry are attached as .accepted/.acked by the caller."""
    if rep is None:
        raise errors.EPROTO("undecodable reply")
    if rep.status != 0:
        raise errors.make_error(rep.status, rep.message)
    return rep


def open_request(name, roles, ack, max_messages, max_bytes,
                 max_message_bytes, full_policy, expected_producers,
                 declare, durable=False):
    check_name(name)
    req = new_request()
    o = req.open
    o.queue = name
    o.roles = enum_value(roles, _ROLES, "role")
    if o.roles > 3:
        raise errors.EINVAL("bad role %r" % (roles,))
    o.ack_mode = enum_value(ack, _ACKS, "ack mode")
    o.declare = bool(declare)
    opts = o.options
    opts.max_messages = max_messages or 0
    opts.max_bytes = max_bytes or 0
    opts.max_message_bytes = max_message_bytes or 0
    opts.full_policy = enum_value(full_policy, _POLICIES, "full policy")
    opts.expected_producers = expected_producers or 0
    opts.durable = bool(durable)
    return req


def split_batches(payloads):
    """Yield lists of payloads that fit one send frame each."""
    batch, size = [], 0
    for p in payloads:
        if batch and (len(batch) >= BATCH_MAX_MESSAGES
                      or size + len(p) > BATCH_MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(p)
        size += len(p) + 8
    if batch:
        yield batch


class Message:
    """A received message. ``data`` is the payload (bytes), ``text`` the
    payload decoded as UTF-8; ``id`` the lease id (explicit ack; 0 in
    auto-ack mode); ``delivery_count`` 1 on first delivery;
    ``redelivered`` true when it was delivered before."""

    __slots__ = ("data", "id", "redelivered", "delivery_count", "_queue",
                 "_gen")

    def __init__(self, delivery, queue, gen):
        self.data = delivery.payload
        self.id = delivery.id
        self.redelivered = delivery.redelivered
        self.delivery_count = delivery.delivery_count
        self._queue = queue
        self._gen = gen

    @property
    def text(self):
        return self.data.decode("utf-8")

    def __bytes__(self):
        return self.data

    def __repr__(self):
        return "<ipcq.Message id=%d delivery_count=%d %r>" % (
            self.id, self.delivery_count, self.data[:40])


_OPTION_FIELDS = ("max_messages", "max_bytes", "max_message_bytes",
                  "full_policy", "expected_producers", "durable")
_STAT_FIELDS = ("name", "depth", "bytes", "in_flight", "producers",
                "consumers", "sent", "received", "acked", "redelivered",
                "dropped", "purged", "ended", "abandoned",
                "producers_ended", "producers_lost", "senders_waiting",
                "receivers_waiting", "corrupt", "writing", "sync_errors",
                "segment_bytes")
_BROKER_FIELDS = ("segment_bytes", "max_memory", "queues", "max_queues")


def stats_dict(qs, broker=None):
    """A QueueStats as a flat dict (the fields of C's ipcq_stats, plus
    the name); the StatsReply's broker totals as broker_* keys."""
    d = {f: getattr(qs, f) for f in _STAT_FIELDS}
    for f in _OPTION_FIELDS:
        d[f] = getattr(qs.options, f)
    for f in _BROKER_FIELDS:
        d["broker_" + f] = getattr(broker, f) if broker is not None else 0
    return d


def options_dict(opts):
    return {f: getattr(opts, f) for f in _OPTION_FIELDS}
