"""The order of a worker's invocations and of the replies that follow them, kept without the
host awaiting each one.

Invocations made under ``chained_invokes()`` run in the worker in the order sent, each only if
the one before returned, so the host may send a stream's last delivery and its closing call
back to back. An api call's reply, sent while such a chain is running, names the chain's
newest invocation (``after``), and the worker handles the reply only once that one finished:
the script sees every callback before the result of the call that caused them.

The chain and the reply being served travel in context variables, so tasks a handler starts
inherit them. Neither knows the worker's type: a worker is only compared by identity.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class InvokeChain:
    """Invocations of one worker made under ``chained_invokes()``: the newest one's id."""

    __slots__ = ("last_id", "worker")

    def __init__(self) -> None:
        self.worker: object | None = None
        self.last_id: int | None = None

    def link(self, worker: object, invoke_id: int) -> int | None:
        """Record ``invoke_id`` as the chain's newest; the id it must run after, if any."""
        if self.worker is None:
            self.worker = worker
        elif self.worker is not worker:
            return None  # a chain orders one worker's invocations; others are not affected
        after, self.last_id = self.last_id, invoke_id
        return after


class ReplyOrder:
    """Set while an api call is served: the newest chained invocation of the calling worker,
    which the reply then names as ``after``."""

    __slots__ = ("after", "worker")

    def __init__(self, worker: object) -> None:
        self.worker = worker
        self.after: int | None = None


_CHAIN: contextvars.ContextVar[InvokeChain | None] = contextvars.ContextVar(
    "invoke_chain", default=None
)
_REPLY_ORDER: contextvars.ContextVar[ReplyOrder | None] = contextvars.ContextVar(
    "reply_order", default=None
)


@contextlib.contextmanager
def chained_invokes() -> Iterator[InvokeChain]:
    """Chain the invocations made in this context (and in tasks it starts) in send order."""
    chain = InvokeChain()
    token = _CHAIN.set(chain)
    try:
        yield chain
    finally:
        _CHAIN.reset(token)


def link_invoke(worker: object, invoke_id: int) -> int | None:
    """A new invocation of ``worker``: the id it must run after (none outside a chain). A
    reply ``worker``'s call is waiting for in this context now waits for it too."""
    chain = _CHAIN.get()
    if chain is None:
        return None
    after = chain.link(worker, invoke_id)
    order = _REPLY_ORDER.get()
    if order is not None and order.worker is worker:
        order.after = invoke_id
    return after


def unlink_invoke(invoke_id: int, after: int | None) -> None:
    """``invoke_id`` was never sent: the chain's newest is the one before it again."""
    chain = _CHAIN.get()
    if chain is not None and chain.last_id == invoke_id:
        chain.last_id = after


def serving_reply(worker: object) -> ReplyOrder:
    """Start serving one of ``worker``'s api calls in this task's context: the order its
    reply must keep (``after``), filled in by the invocations the handler makes."""
    order = ReplyOrder(worker)
    _REPLY_ORDER.set(order)
    return order
