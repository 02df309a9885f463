"""ipcq: a pure-Python client of the ipcq message-queue broker (ipcqd).

    import ipcq
    with ipcq.Client() as c, c.queue("jobs") as q:
        q.send("hello")
        q.end()
        for msg in q:          # stops at end of stream
            print(msg.text)

See docs/python.md. The asyncio flavour is ipcq.aio.
"""

from . import errors
from .errors import IpcqError
from .errors import *  # noqa: F401,F403 - one class per C error row
from ._wire import (Message, default_url, PROTOCOL_VERSION, ROLE_AUTO,
                    ROLE_PRODUCER, ROLE_CONSUMER, ACK_AUTO, ACK_EXPLICIT,
                    FULL_BLOCK, FULL_FAIL, FULL_DROP_OLDEST)
from .client import Client, Queue

__version__ = "0.1.0"

# Friendly aliases of the most used error classes.
EndOfStream = errors.EOF
Timeout = errors.ETIMEDOUT
QueueEnded = errors.ECLOSED
StreamAbandoned = errors.EABANDONED
ConnectionLost = errors.ECONNLOST
NoBroker = errors.ENOBROKER

__all__ = ["Client", "Queue", "Message", "IpcqError", "errors",
           "default_url", "PROTOCOL_VERSION", "ROLE_AUTO", "ROLE_PRODUCER",
           "ROLE_CONSUMER", "ACK_AUTO", "ACK_EXPLICIT", "FULL_BLOCK",
           "FULL_FAIL", "FULL_DROP_OLDEST", "EndOfStream", "Timeout",
           "QueueEnded", "StreamAbandoned", "ConnectionLost", "NoBroker"] \
    + [n for n, num, _ in errors.TABLE if num]
