"""The asyncio flavour of the ipcq client.

    import asyncio, ipcq.aio

    async def main():
        async with await ipcq.aio.Client.connect() as c:
            q = await c.queue("jobs")
            async for msg in q:        # stops at end of stream
                print(msg.text)

One connection per Client (asyncio streams); any number of coroutines may
have requests outstanding on it at once: a reader task matches each reply
to its request by request id, so a parked ``recv`` does not hold up a
``send`` of another task. Method names and semantics are those of the
synchronous ``ipcq.Client``/``ipcq.Queue``.

Cancelling a coroutine that waits for a reply does not cancel the request
at the broker (the protocol has no cancel): a cancelled ``recv`` may still
take messages, which are then lost in auto-ack mode (explicit-ack messages
stay leased to the handle until it detaches). Prefer ``timeout=``.
"""

import asyncio
import time

from . import errors
from . import _ops
from . import _wire as w


async def _dial(kind, addr, connect_timeout):
    loop = asyncio.get_running_loop()
    deadline = None if connect_timeout is None else \
        loop.time() + connect_timeout
    delay = 0.01
    while True:
        left = None if deadline is None else deadline - loop.time()
        try:
            if kind == "ipc":
                coro = asyncio.open_unix_connection(addr)
            else:
                coro = asyncio.open_connection(addr[0], addr[1])
            return await asyncio.wait_for(
                coro, None if left is None else max(left, 0.5))
        except PermissionError as exc:
            raise errors.EPERM("cannot connect to %r: %s" % (addr, exc)) \
                from None
        except (OSError, asyncio.TimeoutError) as exc:
            last = exc
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            raise errors.ENOBROKER("no broker at %r: %s" % (addr, last))
        await asyncio.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 2, 0.1)


class _Connection:
    def __init__(self, kind, reader, writer):
        self.kind = kind
        self._reader = reader
        self._writer = writer
        self._pending = {}
        self._ids = w.RequestIds()
        self.dead = None
        self._task = asyncio.get_running_loop().create_task(
            self._read_loop())

    @classmethod
    async def open(cls, url, connect_timeout):
        kind, addr = w.parse_url(url)
        reader, writer = await _dial(kind, addr, connect_timeout)
        try:
            writer.write(w.SP_HEADER_REQ)
            hs = 10.0 if connect_timeout is None else max(connect_timeout,
                                                          5.0)
            got = await asyncio.wait_for(reader.readexactly(8), hs)
        except (OSError, asyncio.IncompleteReadError,
                asyncio.TimeoutError) as exc:
            writer.close()
            raise errors.ENOBROKER("SP handshake failed: %r" % exc) \
                from None
        if got != w.SP_HEADER_REP:
            writer.close()
            raise errors.EPROTO("peer is not an SP REP v0 socket: %r" % got)
        return cls(kind, reader, writer)

    async def call(self, req, wait):
        if self.dead is not None:
            raise errors.ECONNLOST(self.dead)
        rid = self._ids.take(self._pending)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            self._writer.write(w.encode_frame(self.kind, rid, req))
            await self._writer.drain()
            return await asyncio.wait_for(fut, wait)
        except asyncio.TimeoutError:
            # Never resent: the broker may have executed it. Silence past
            # the grace: this connection is gone (the broker may have
            # dropped it, docs/broker.md); the next call redials.
            self._fail("no reply within the request's timeout + grace")
            raise errors.ECONNLOST("no reply within the request's "
                                   "timeout + grace") from None
        except (OSError, ConnectionError) as exc:
            self._fail("send failed: %s" % exc)
            raise errors.ECONNLOST(str(exc)) from None
        finally:
            self._pending.pop(rid, None)

    async def _read_loop(self):
        hsize = w.frame_header_size(self.kind)
        try:
            while True:
                head = await self._reader.readexactly(hsize)
                n = w.parse_frame_header(self.kind, head)
                rid, rep = w.parse_reply_payload(
                    await self._reader.readexactly(n))
                fut = self._pending.pop(rid, None)
                if fut is None or fut.done():
                    continue  # the reply of a request given up on
                if rep is None:
                    fut.set_exception(errors.EPROTO("undecodable reply"))
                else:
                    fut.set_result(rep)
        except asyncio.CancelledError:
            self._fail("client closed")
            raise
        except (OSError, asyncio.IncompleteReadError,
                errors.IpcqError) as exc:
            self._fail(str(exc) or type(exc).__name__)

    def _fail(self, why):
        if self.dead is None:
            self.dead = why
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(errors.ECONNLOST(why))

    async def close(self):
        self._fail("client closed")
        self._task.cancel()
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (OSError, ConnectionError):
            pass
        try:
            await self._task
        except asyncio.CancelledError:
            pass


class Queue(_ops.QueueBase):
    """A queue handle; the methods of ipcq.Queue, as coroutines."""

    def __init__(self, *args):
        super().__init__(*args)
        self._lock = asyncio.Lock()

    async def _run(self, op):
        return op.finish(await self._client._call(op.req, op.wait))

    async def _fresh(self):
        """Re-attach after a reconnect (on the handle's next call)."""
        gen = await self._client._connection_gen()
        if self._gen == gen or self._detached:
            return
        async with self._lock:
            if self._gen != gen:
                self._attached(await self._run(self._op_reopen()), gen)

    async def send(self, data, timeout=None):
        await self._fresh()
        await self._run(self._op_send([w.to_bytes(data)],
                                      w.timeout_ms(timeout)))

    async def send_many(self, messages, timeout=None):
        await self._fresh()
        payloads = [w.to_bytes(m) for m in messages]
        deadline = None if timeout is None or timeout < 0 else \
            time.monotonic() + timeout
        total = 0
        for batch in w.split_batches(payloads):
            left = None if deadline is None else \
                max(0.0, deadline - time.monotonic())
            try:
                total += await self._run(
                    self._op_send(batch, w.timeout_ms(left)))
            except errors.IpcqError as err:
                err.accepted = total + getattr(err, "accepted", 0)
                raise
        return total

    async def recv(self, timeout=None):
        await self._fresh()
        return (await self._run(self._op_recv(1, w.timeout_ms(timeout))))[0]

    async def recv_many(self, max=100, timeout=None):
        await self._fresh()
        return await self._run(self._op_recv(max, w.timeout_ms(timeout)))

    async def ack(self, msg):
        await self._fresh()
        await self._run(self._op_ack([msg], False))

    async def ack_many(self, msgs):
        await self._fresh()
        return await self._run(self._op_ack(list(msgs), False))

    async def nack(self, msg):
        await self._fresh()
        await self._run(self._op_ack([msg], True))

    async def nack_many(self, msgs):
        await self._fresh()
        return await self._run(self._op_ack(list(msgs), True))

    async def end(self):
        await self._fresh()
        return await self._run(self._op_end())

    async def shutdown(self):
        await self._fresh()
        await self._run(self._op_shutdown())

    async def close(self):
        if self._detached:
            return
        if self._gen != self._client._gen:
            self._detached = True   # its connection, and it, are gone
            return
        try:
            await self._run(self._op_detach())
        except errors.IpcqError:
            pass

    async def stats(self):
        await self._fresh()
        return await self._run(self._op_stats())

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.recv()
        except errors.EOF:
            raise StopAsyncIteration from None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


class Client:
    """An asyncio connection to a broker: ``await Client.connect(url)``.
    Arguments as ipcq.Client."""

    def __init__(self, url, conn, connect_timeout, reply_grace):
        self.url = url
        self._conn = conn
        self._connect_timeout = connect_timeout
        self._reply_grace = reply_grace
        self._lock = asyncio.Lock()
        self._gen = 0
        self._closed = False

    @classmethod
    async def connect(cls, url=None,
                      connect_timeout=w.DEFAULT_CONNECT_TIMEOUT,
                      reply_grace=w.DEFAULT_REPLY_GRACE):
        url = url or w.default_url()
        conn = await _Connection.open(url, connect_timeout)
        return cls(url, conn, connect_timeout, reply_grace)

    def __repr__(self):
        return "<ipcq.aio.Client %r>" % self.url

    async def _connection_gen(self):
        """The live connection's generation, reconnecting first if the
        connection was lost (handles then re-attach: Queue._fresh)."""
        if self._closed:
            raise errors.ECONNLOST("client is closed")
        conn = self._conn
        if conn.dead is None:
            return self._gen
        async with self._lock:
            if self._closed:
                raise errors.ECONNLOST("client is closed")
            if self._conn is conn:
                await conn.close()
                try:
                    self._conn = await _Connection.open(
                        self.url, self._connect_timeout)
                except errors.ENOBROKER as exc:
                    raise errors.ECONNLOST("reconnect failed: %s"
                                           % exc.detail) from None
                self._gen += 1
            return self._gen

    async def _call(self, req, wait):
        if self._closed:
            raise errors.ECONNLOST("client is closed")
        return await self._conn.call(req, wait)

    async def _run(self, op):
        await self._connection_gen()
        return op.finish(await self._call(op.req, op.wait))

    async def queue(self, name, role=w.ROLE_AUTO, ack=w.ACK_AUTO,
                    max_messages=0, max_bytes=0, max_message_bytes=0,
                    full_policy=w.FULL_BLOCK, expected_producers=0,
                    declare=False, durable=False):
        kw = dict(role=role, ack=ack, max_messages=max_messages,
                  max_bytes=max_bytes, max_message_bytes=max_message_bytes,
                  full_policy=full_policy,
                  expected_producers=expected_producers, declare=declare,
                  durable=durable)
        gen = await self._connection_gen()
        op = _ops.op_open(name, self._reply_grace, **kw)
        rep = op.finish(await self._call(op.req, op.wait))
        return Queue(self, name, kw, rep, gen)

    async def list(self):
        return await self._run(_ops.op_list(self._reply_grace))

    async def stats(self, name=None):
        return await self._run(_ops.op_stats(name, self._reply_grace))

    async def purge(self, name):
        return await self._run(_ops.op_purge(name, self._reply_grace))

    async def delete(self, name):
        await self._run(_ops.op_delete(name, self._reply_grace))

    async def shutdown_queue(self, name):
        await self._run(_ops.op_shutdown_queue(name, self._reply_grace))

    async def close(self):
        if not self._closed:
            self._closed = True
            await self._conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
