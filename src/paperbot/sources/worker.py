"""Parsing off the event loop: parses run on a small pool of daemon threads, awaited under the source's deadline.

Parsers are CPU-bound and cannot be interrupted from outside, so they cooperate: long loops call
:func:`checkpoint`, which raises :class:`ParseError` once the awaiting coroutine has given up (its deadline passed,
or it was cancelled). The threads are daemons, so a parse still inside a C call when the process ends never delays
the exit (``asyncio.to_thread``'s pool threads are joined at interpreter shutdown, which a stuck parse would hang).
Threads are kept and reused: starting one per parse cost more than parsing a day of HF papers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from paperbot.errors import ParseError

P = ParamSpec("P")
T = TypeVar("T")

#: At most this many parses run at once; more wait in the queue (the GIL runs one at a time anyway).
MAX_THREADS = 4

_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("paperbot_parse_stop", default=None)


def checkpoint() -> None:
    """Raise ParseError when the parse this thread runs for is no longer awaited."""
    stop = _STOP.get()
    if stop is not None and stop.is_set():
        raise ParseError("parsing stopped: the source's deadline passed")


@dataclass(slots=True)
class _Job:
    run: Callable[[], Any]
    context: contextvars.Context
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    stop: threading.Event


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # cancelled meanwhile: nobody wants the outcome
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _Pool:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, job: _Job) -> None:
        with self._lock:
            if self._idle == 0 and self._threads < MAX_THREADS:
                self._threads += 1
                self._idle += 1
                threading.Thread(target=self._work, name=f"paperbot-parse-{self._threads}", daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            value: Any
            if job.stop.is_set():  # given up while it waited in the queue: not worth starting
                ok, value = False, ParseError("parsing stopped: the source's deadline passed")
            else:
                try:
                    ok, value = True, job.context.run(job.run)
                except Exception as exc:
                    ok, value = False, exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                job.loop.call_soon_threadsafe(_settle, job.future, ok, value)
            del job, value
            with self._lock:
                self._idle += 1


_POOL = _Pool()


async def in_worker(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``func(*args, **kwargs)`` on a parse thread; cancelling the await tells the parse to stop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    stop = threading.Event()
    context = contextvars.copy_context()
    context.run(_STOP.set, stop)
    _POOL.submit(_Job(lambda: func(*args, **kwargs), context, loop, future, stop))
    try:
        return await future
    finally:
        stop.set()
