"""The ipcq error table as Python exceptions.

One class per row of the C table IPCQ_ERRNO_MAP (libclient/include/ipcq.h),
named exactly like the row (``ipcq.errors.ETIMEDOUT`` is ``IPCQ_ETIMEDOUT``
and ``STATUS_ETIMEDOUT``), all subclasses of :class:`IpcqError`. Each
instance has ``.code`` (the number, the same in C and on the wire),
``.name`` (``"ETIMEDOUT"``) and ``.detail`` (the broker's message, if any).

A few rows also derive from the matching built-in exception so that
generic code can catch them: ETIMEDOUT is a ``TimeoutError``, ENOBROKER and
ECONNLOST are ``ConnectionError``s, EINVAL and EBADNAME are ``ValueError``s.
"""

__all__ = ["IpcqError", "error_class", "make_error", "TABLE"]

# (name, number, message): the C table, row for row. Rows are only appended.
TABLE = (
    ("OK", 0, "success"),
    ("EINVAL", 1, "invalid argument"),
    ("ENOMEM", 2, "out of memory"),
    ("ETIMEDOUT", 3, "timed out"),
    ("EOF", 4, "end of stream"),
    ("ECLOSED", 5, "queue has ended: no more messages are accepted"),
    ("EFULL", 6, "queue is full"),
    ("EBADNAME", 7, "invalid queue name"),
    ("ENOTFOUND", 8, "no such queue"),
    ("EMSGSIZE", 9, "message too large"),
    ("EPROTO", 10, "protocol error: malformed request or reply"),
    ("EVERSION", 11, "unsupported protocol version"),
    ("ENOBROKER", 12, "broker unreachable"),
    ("ECONNLOST", 13, "connection to the broker lost"),
    ("EBADHANDLE", 14, "unknown or stale queue handle"),
    ("EABANDONED", 15,
        "stream abandoned: a producer left without ending it"),
    ("EEXIST", 16, "queue exists with different options"),
    ("EBUSY", 17, "broker busy: too many parked requests"),
    ("EPERM", 18, "permission denied"),
    ("ENOTSUP", 19, "operation not supported"),
    ("EDELETED", 20, "queue was deleted"),
    ("ENOLEASE", 21, "no such lease: message not held by this handle"),
    ("EINTERNAL", 22, "internal error"),
    ("ECORRUPT", 23, "queue segment is corrupt: the queue is quarantined"),
    ("EIO", 24, "a disk sync failed: the message may not be durable"),
    ("ENOSPC", 25, "no space left to back the queue's memory"),
    ("ELIMIT", 26, "a broker limit was reached"),
    ("EMFILE", 27, "the broker is out of file descriptors"),
    ("ENOSHM", 28, "the shared-memory path is required but cannot be had"),
)


class IpcqError(Exception):
    """Base of every ipcq error. ``code``/``name`` identify the row."""

    code = -1
    name = "UNKNOWN"
    strerror = "unknown error"

    def __init__(self, detail=None, code=None):
        if code is not None:
            self.code = code
        self.detail = detail or ""
        text = self.detail or self.strerror
        super().__init__(text)
        # OSError subclasses (TimeoutError, ConnectionError) fill their
        # own fields from args; keep ours readable whatever the base.
        self.args = (text,)

    def __str__(self):
        return "%s (%s)" % (self.args[0], self.name)


# Extra built-in bases, so `except TimeoutError` etc. work.
_EXTRA_BASES = {
    "EINVAL": (ValueError,),
    "EBADNAME": (ValueError,),
    "ETIMEDOUT": (TimeoutError,),
    "ENOBROKER": (ConnectionError,),
    "ECONNLOST": (ConnectionError,),
}

_BY_CODE = {}


def _make_classes():
    g = globals()
    for name, num, msg in TABLE:
        if num == 0:
            continue
        cls = type(name, (IpcqError,) + _EXTRA_BASES.get(name, ()), {
            "code": num, "name": name, "strerror": msg,
            "__doc__": "IPCQ_%s (%d): %s." % (name, num, msg),
            "__module__": __name__,
        })
        g[name] = cls
        _BY_CODE[num] = cls
        __all__.append(name)


_make_classes()


def error_class(code):
    """The exception class of an error number (IpcqError if unknown)."""
    return _BY_CODE.get(code, IpcqError)


def make_error(code, detail=None):
    """An exception instance for a status number; an unknown number gives
    a plain IpcqError carrying it (the protocol says: a generic error)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return IpcqError(detail or "unknown error %d" % code, code=code)
    return cls(detail)
