"""The synchronous client: one socket per Client, shared by threads.

Threading model: requests from any number of threads go out on the one
connection (writes serialised by a lock) and a reader thread hands each
reply to the thread waiting for its request id. The broker serves requests
of one connection concurrently, so a thread parked in ``recv`` never holds
up another thread's ``send`` (docs/protocol.md, "Several requests may be
outstanding on one connection").
"""

import socket
import threading
import time

from . import errors
from . import _ops
from . import _wire as w


def _dial(kind, addr, connect_timeout):
    """Connect, retrying every 10-100 ms while nobody listens (like
    libipcq) until connect_timeout (None: forever; 0: one attempt)."""
    deadline = None if connect_timeout is None else \
        time.monotonic() + connect_timeout
    delay = 0.01
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        try:
            if kind == "ipc":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.settimeout(None if left is None else max(left, 0.5))
                    s.connect(addr)
                except BaseException:
                    s.close()
                    raise
            else:
                s = socket.create_connection(
                    addr, timeout=None if left is None else max(left, 0.5))
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except PermissionError as exc:
            raise errors.EPERM("cannot connect to %r: %s" % (addr, exc)) \
                from None
        except socket.gaierror as exc:
            raise errors.ENOBROKER("cannot resolve %r: %s" % (addr, exc)) \
                from None
        except OSError as exc:
            last = exc
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise errors.ENOBROKER("no broker at %r: %s" % (addr, last))
        time.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 2, 0.1)


def _handshake(sock, timeout):
    sock.settimeout(timeout)
    try:
        sock.sendall(w.SP_HEADER_REQ)
        got = b""
        while len(got) < 8:
            chunk = sock.recv(8 - len(got))
            if not chunk:
                break
            got += chunk
    except OSError as exc:
        raise errors.ENOBROKER("SP handshake failed: %s" % exc) from None
    if got != w.SP_HEADER_REP:
        raise errors.EPROTO("peer is not an SP REP v0 socket: %r" % got)
    sock.settimeout(None)


class _Pending:
    __slots__ = ("event", "reply", "error")

    def __init__(self):
        self.event = threading.Event()
        self.reply = None
        self.error = None


class _Connection:
    """One SP REQ connection with a reader thread dispatching by id."""

    def __init__(self, url, connect_timeout):
        self.kind, addr = w.parse_url(url)
        sock = _dial(self.kind, addr, connect_timeout)
        try:
            hs = 10.0 if connect_timeout is None else max(connect_timeout,
                                                          5.0)
            _handshake(sock, hs)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._wlock = threading.Lock()
        self._plock = threading.Lock()
        self._pending = {}
        self._ids = w.RequestIds()
        self.dead = None
        self._reader = threading.Thread(target=self._read_loop,
                                        name="ipcq-reader", daemon=True)
        self._reader.start()

    def call(self, req, wait):
        p = _Pending()
        with self._plock:
            if self.dead is not None:
                raise errors.ECONNLOST(self.dead)
            rid = self._ids.take(self._pending)
            self._pending[rid] = p
        frame = w.encode_frame(self.kind, rid, req)
        try:
            with self._wlock:
                self.sock.sendall(frame)
        except OSError as exc:
            self._fail("send failed: %s" % exc)
        if not p.event.wait(wait):
            with self._plock:
                self._pending.pop(rid, None)
            if not p.event.is_set():
                # Never resent: the broker may have executed it. A broker
                # silent past the grace treats this connection as gone
                # (it may have dropped it, docs/broker.md): so do we, and
                # the next call redials, as libipcq does.
                self._fail("no reply within the request's timeout + grace")
                raise errors.ECONNLOST("no reply within the request's "
                                       "timeout + grace")
        if p.error is not None:
            raise p.error
        return p.reply

    def _readn(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:])
            if k == 0:
                raise EOFError("connection closed by the broker")
            got += k
        return bytes(buf)

    def _read_loop(self):
        hsize = w.frame_header_size(self.kind)
        try:
            while True:
                n = w.parse_frame_header(self.kind, self._readn(hsize))
                rid, rep = w.parse_reply_payload(self._readn(n))
                with self._plock:
                    p = self._pending.pop(rid, None)
                if p is None:
                    continue  # the reply of a request given up on
                if rep is None:
                    p.error = errors.EPROTO("undecodable reply")
                p.reply = rep
                p.event.set()
        except (OSError, EOFError, errors.IpcqError) as exc:
            self._fail(str(exc) or type(exc).__name__)

    def _fail(self, why):
        with self._plock:
            if self.dead is None:
                self.dead = why
            pending, self._pending = self._pending, {}
        for p in pending.values():
            p.error = errors.ECONNLOST(why)
            p.event.set()

    def close(self):
        self._fail("client closed")
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._reader is not threading.current_thread():
            self._reader.join(5.0)
        self.sock.close()


class Queue(_ops.QueueBase):
    """A handle on a named queue (``Client.queue``). Usable from several
    threads. Exiting a ``with`` block detaches it."""

    def __init__(self, *args):
        super().__init__(*args)
        self._lock = threading.Lock()

    def _run(self, op):
        return op.finish(self._client._call(op.req, op.wait))

    def _fresh(self):
        """Re-attach after a reconnect (on the handle's next call)."""
        c = self._client
        gen = c._connection_gen()
        if self._gen == gen or self._detached:
            return
        with self._lock:
            if self._gen != gen:
                self._attached(self._run(self._op_reopen()), gen)

    def send(self, data, timeout=None):
        """Send one message (bytes, or str sent as UTF-8). Waits up to
        timeout seconds (None: forever) while the queue is full."""
        self._fresh()
        self._run(self._op_send([w.to_bytes(data)], w.timeout_ms(timeout)))

    def send_many(self, messages, timeout=None):
        """Send messages in order, batched; returns how many were sent.
        On error the exception's ``.accepted`` tells how many went in."""
        self._fresh()
        payloads = [w.to_bytes(m) for m in messages]
        deadline = None if timeout is None or timeout < 0 else \
            time.monotonic() + timeout
        total = 0
        for batch in w.split_batches(payloads):
            left = None if deadline is None else \
                max(0.0, deadline - time.monotonic())
            try:
                total += self._run(self._op_send(batch, w.timeout_ms(left)))
            except errors.IpcqError as err:
                err.accepted = total + getattr(err, "accepted", 0)
                raise
        return total

    def recv(self, timeout=None):
        """One Message, waiting up to timeout seconds (None: forever).
        Raises EOF at end of stream (and on every later call)."""
        self._fresh()
        return self._run(self._op_recv(1, w.timeout_ms(timeout)))[0]

    def recv_many(self, max=100, timeout=None):
        """Up to max (<= 1024) ready messages, waiting only while none is.
        Returns a non-empty list."""
        self._fresh()
        return self._run(self._op_recv(max, w.timeout_ms(timeout)))

    def ack(self, msg):
        """Acknowledge a message (explicit-ack mode). ENOLEASE if this
        handle no longer holds it."""
        self._fresh()
        self._run(self._op_ack([msg], False))

    def ack_many(self, msgs):
        """Acknowledge several messages in one round trip; returns the
        count acked."""
        self._fresh()
        return self._run(self._op_ack(list(msgs), False))

    def nack(self, msg):
        """Put a message back at the head of the queue for redelivery."""
        self._fresh()
        self._run(self._op_ack([msg], True))

    def nack_many(self, msgs):
        self._fresh()
        return self._run(self._op_ack(list(msgs), True))

    def end(self):
        """End this producer's stream; returns whether the queue ended."""
        self._fresh()
        return self._run(self._op_end())

    def shutdown(self):
        """End the queue at once for every producer (ipcq_queue_shutdown).
        Queued messages are still delivered. The handle stays attached."""
        self._fresh()
        self._run(self._op_shutdown())

    def close(self):
        """Release the handle (leases are redelivered; an un-ended
        producer counts as lost). Idempotent; never raises."""
        if self._detached:
            return
        if self._gen != self._client._gen:
            self._detached = True   # its connection, and it, are gone
            return
        try:
            self._run(self._op_detach())
        except errors.IpcqError:
            pass

    def stats(self):
        """The queue's statistics as a dict."""
        self._fresh()
        return self._run(self._op_stats())

    def __iter__(self):
        """Messages until end of stream; other errors are raised."""
        while True:
            try:
                msg = self.recv()
            except errors.EOF:
                return
            yield msg

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client:
    """One connection to an ipcq broker.

    ``url``: "ipc:///path" or "tcp://host:port"; None means $IPCQ_URL, else
    the default address (see ``default_url``). ``connect_timeout``: seconds
    to keep trying to reach the broker (None: forever, 0: one attempt).
    ``reply_grace``: seconds past a request's own timeout to wait for its
    reply before raising ECONNLOST (None: forever).
    """

    def __init__(self, url=None, connect_timeout=w.DEFAULT_CONNECT_TIMEOUT,
                 reply_grace=w.DEFAULT_REPLY_GRACE):
        self.url = url or w.default_url()
        self._reply_grace = reply_grace
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._gen = 0
        self._conn = _Connection(self.url, connect_timeout)
        self._closed = False

    def __repr__(self):
        return "<ipcq.Client %r>" % self.url

    def _connection_gen(self):
        """The live connection's generation, reconnecting first if the
        connection was lost (handles then re-attach: Queue._fresh)."""
        if self._closed:
            raise errors.ECONNLOST("client is closed")
        conn = self._conn
        if conn.dead is None:
            return self._gen
        with self._lock:
            if self._closed:
                raise errors.ECONNLOST("client is closed")
            if self._conn is conn:
                conn.close()
                try:
                    self._conn = _Connection(self.url,
                                             self._connect_timeout)
                except errors.ENOBROKER as exc:
                    raise errors.ECONNLOST("reconnect failed: %s"
                                           % exc.detail) from None
                self._gen += 1
            return self._gen

    def _call(self, req, wait):
        if self._closed:
            raise errors.ECONNLOST("client is closed")
        return self._conn.call(req, wait)

    def _run(self, op):
        self._connection_gen()
        return op.finish(self._call(op.req, op.wait))

    def queue(self, name, role=w.ROLE_AUTO, ack=w.ACK_AUTO, max_messages=0,
              max_bytes=0, max_message_bytes=0, full_policy=w.FULL_BLOCK,
              expected_producers=0, declare=False, durable=False):
        """Attach to the queue called name, creating it if needed.

        role: "auto" (default), "producer", "consumer", "both" or the
        ROLE_* bits; ack: "auto" or "explicit"; full_policy: "block",
        "fail" or "drop_oldest". The bounds, policy, expected_producers
        and durable set the options of a queue this call creates (0:
        broker default); for an existing queue each one given (non-zero,
        a policy other than "block", durable=True) must be the queue's,
        else EEXIST naming the option; left out, it accepts the queue's.
        declare=True compares every option, 0 meaning the default;
        durable=True keeps a queue this call creates in the broker's
        --state-dir."""
        kw = dict(role=role, ack=ack, max_messages=max_messages,
                  max_bytes=max_bytes, max_message_bytes=max_message_bytes,
                  full_policy=full_policy,
                  expected_producers=expected_producers, declare=declare,
                  durable=durable)
        gen = self._connection_gen()
        op = _ops.op_open(name, self._reply_grace, **kw)
        return Queue(self, name, kw, op.finish(self._call(op.req, op.wait)),
                     gen)

    def list(self):
        """Every queue name, in creation order."""
        return self._run(_ops.op_list(self._reply_grace))

    def stats(self, name=None):
        """Stats of the queue called name (a dict), or with no name a
        dict of every queue's stats by name."""
        return self._run(_ops.op_stats(name, self._reply_grace))

    def purge(self, name):
        """Discard the ready messages of a queue; returns how many."""
        return self._run(_ops.op_purge(name, self._reply_grace))

    def delete(self, name):
        """Delete a queue and its messages."""
        self._run(_ops.op_delete(name, self._reply_grace))

    def shutdown_queue(self, name):
        """End the queue called name at once, for every producer."""
        self._run(_ops.op_shutdown_queue(name, self._reply_grace))

    def close(self):
        """Disconnect. The broker detaches every handle of this client
        (leases are redelivered). Pending calls raise ECONNLOST."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
