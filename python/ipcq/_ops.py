"""The queue and admin operations, written once for both flavours.

Each operation is a request plus a function that turns the reply into a
result or an exception. The sync classes (client.py) and the asyncio ones
(aio.py) only differ in how they move a request to the broker and wait:
``result = op.finish(call(op.req, op.wait))`` or ``await``ed.
"""

from . import errors
from . import _wire as w


class Op:
    __slots__ = ("req", "wait", "finish")

    def __init__(self, req, wait, finish):
        self.req = req
        self.wait = wait
        self.finish = finish


def _ok(rep):
    w.check_reply(rep)
    return None


class QueueBase:
    """State and request building of a queue handle (no I/O)."""

    def __init__(self, client, name, open_kw, reply, gen):
        self._client = client
        self.name = name
        self._open_kw = open_kw
        self.ack_mode = w.enum_value(open_kw["ack"], w._ACKS, "ack mode")
        self._eof = False
        self._detached = False
        self._attached(reply, gen)

    def _attached(self, reply, gen):
        """Take the handle of an open reply, made on connection gen."""
        self._handle = reply.open.handle
        self._gen = gen
        self.options = w.options_dict(reply.open.options)
        self._max_msg = reply.open.options.max_message_bytes

    def _op_reopen(self):
        """The open repeated after a reconnect (same options, declare
        included), like libipcq's automatic re-attach."""
        return op_open(self.name, self._grace(), **self._open_kw)

    def __repr__(self):
        return "<ipcq.Queue %r handle=%d>" % (self.name, self._handle)

    def _grace(self):
        return self._client._reply_grace

    def _check_open(self):
        if self._detached:
            raise errors.EBADHANDLE("queue handle %r was detached"
                                    % self.name)

    def _op_send(self, payloads, tmo_ms):
        self._check_open()
        for p in payloads:
            if self._max_msg and len(p) > self._max_msg:
                raise errors.EMSGSIZE("message of %d bytes > max %d"
                                      % (len(p), self._max_msg))
        req = w.new_request()
        req.send.handle = self._handle
        req.send.payloads.extend(payloads)
        req.send.timeout_ms = tmo_ms

        def finish(rep):
            if rep is not None and rep.status != 0:
                err = errors.make_error(rep.status, rep.message)
                err.accepted = rep.send.accepted
                raise err
            w.check_reply(rep)
            return rep.send.accepted
        return Op(req, w.reply_wait(tmo_ms, self._grace()), finish)

    def _op_recv(self, maxn, tmo_ms):
        self._check_open()
        if self._eof:
            # Sticky, like libipcq: once EOF, always EOF on this handle.
            raise errors.EOF()
        if not isinstance(maxn, int) or maxn < 1:
            raise errors.EINVAL("max must be >= 1")
        req = w.new_request()
        req.recv.handle = self._handle
        req.recv.max_messages = min(maxn, w.RECV_MAX_MESSAGES)
        req.recv.timeout_ms = tmo_ms
        gen = self._gen

        def finish(rep):
            if rep is not None and rep.status == errors.EOF.code:
                self._eof = True
            w.check_reply(rep)
            msgs = [w.Message(d, self, gen) for d in rep.recv.messages]
            if not msgs:
                raise errors.EPROTO("recv reply without messages")
            return msgs
        return Op(req, w.reply_wait(tmo_ms, self._grace()), finish)

    def _op_ack(self, msgs, requeue):
        self._check_open()
        ids = []
        for m in msgs:
            if not isinstance(m, w.Message) or m._queue is not self:
                raise errors.EINVAL("message was not received on this "
                                    "queue handle")
            if m._gen != self._gen:
                # Its lease died with the old connection (redelivered).
                raise errors.ENOLEASE("message was received before a "
                                      "reconnect: its lease is gone")
            ids.append(m.id)
        req = w.new_request()
        req.ack.handle = self._handle
        req.ack.ids.extend(ids)
        req.ack.requeue = bool(requeue)

        def finish(rep):
            if rep is not None and rep.status != 0:
                err = errors.make_error(rep.status, rep.message)
                err.acked = rep.ack.acked
                raise err
            w.check_reply(rep)
            return rep.ack.acked
        return Op(req, w.reply_wait(0, self._grace()), finish)

    def _op_end(self):
        self._check_open()
        req = w.new_request()
        req.end.handle = self._handle

        def finish(rep):
            w.check_reply(rep)
            return rep.end.queue_ended
        return Op(req, w.reply_wait(0, self._grace()), finish)

    def _op_detach(self):
        req = w.new_request()
        req.detach.handle = self._handle
        self._detached = True
        return Op(req, w.reply_wait(0, self._grace()), _ok)

    def _op_shutdown(self):
        self._check_open()
        return op_shutdown_queue(self.name, self._grace())

    def _op_stats(self):
        self._check_open()
        return op_stats(self.name, self._grace())


def op_open(name, grace, **kw):
    kw = dict(kw)
    kw["roles"] = kw.pop("role")
    req = w.open_request(name, **kw)
    return Op(req, w.reply_wait(0, grace), w.check_reply)


def _by_name(field, name, grace, finish):
    w.check_name(name)
    req = w.new_request()
    getattr(req, field).queue = name
    return Op(req, w.reply_wait(0, grace), finish)


def op_shutdown_queue(name, grace):
    return _by_name("shutdown", name, grace, _ok)


def op_delete(name, grace):
    return _by_name("delete", name, grace, _ok)


def op_purge(name, grace):
    def finish(rep):
        w.check_reply(rep)
        return rep.purge.purged
    return _by_name("purge", name, grace, finish)


def op_stats(name, grace):
    """Stats of one queue (a dict), or of all (dict name -> dict)."""
    def finish(rep):
        w.check_reply(rep)
        all_ = {q.name: w.stats_dict(q, rep.stats.broker)
                for q in rep.stats.queues}
        if name is None:
            return all_
        if name not in all_:
            raise errors.EPROTO("stats reply without queue %r" % name)
        return all_[name]
    if name is None:
        req = w.new_request()
        req.stats.SetInParent()
        return Op(req, w.reply_wait(0, grace), finish)
    return _by_name("stats", name, grace, finish)


def op_list(grace):
    req = w.new_request()
    req.list.SetInParent()

    def finish(rep):
        w.check_reply(rep)
        return list(rep.list.queues)
    return Op(req, w.reply_wait(0, grace), finish)
