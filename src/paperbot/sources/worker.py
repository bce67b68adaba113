"""Parsing off the event loop: each parse runs in its own daemon thread, awaited under the source's deadline.

Parsers are CPU-bound and cannot be interrupted from outside, so they cooperate: long loops call
:func:`checkpoint`, which raises :class:`ParseError` once the awaiting coroutine has given up (its deadline passed,
or it was cancelled). The thread is a daemon, so a parse that is still inside a C call when the process ends
never delays the exit (``asyncio.to_thread``'s pool threads are joined at interpreter shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from paperbot.errors import ParseError

P = ParamSpec("P")
T = TypeVar("T")

_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("paperbot_parse_stop", default=None)


def checkpoint() -> None:
    """Raise ParseError when the parse this thread runs for is no longer awaited."""
    stop = _STOP.get()
    if stop is not None and stop.is_set():
        raise ParseError("parsing stopped: the source's deadline passed")


async def in_worker(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``func(*args, **kwargs)`` in a fresh daemon thread; cancelling the await tells the parse to stop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    stop = threading.Event()
    context = contextvars.copy_context()
    context.run(_STOP.set, stop)

    def settle(set_outcome: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            set_outcome(value)

    def work() -> None:
        try:
            result = context.run(func, *args, **kwargs)
        except Exception as exc:
            outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, exc)
        else:
            outcome = (future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name=f"paperbot-parse:{getattr(func, '__name__', 'parse')}", daemon=True).start()
    try:
        return await future
    finally:
        stop.set()
