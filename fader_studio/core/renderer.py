"""A latest-wins background renderer (Qt-free).

While a fader moves, the UI asks for far more renders than a CPU can make.
:class:`LatestWinsRenderer` keeps one worker thread and one pending slot: a
new request replaces any request not yet started, so the worker always moves
on to the newest values and never builds a backlog. ``submit`` only takes a
lock for a few instructions: the caller's thread never waits for a render.

The same thread also runs other work in order (:meth:`LatestWinsRenderer.call`:
loading a model, encoding a photo), ahead of any pending render, so that all
inference happens on one thread and a render never sees half-loaded state.

Each request gets an increasing id. Every finished render is delivered (to
``on_result``, on the worker thread), in increasing id order, even when newer
requests are already waiting: while a fader keeps moving, the view shows the
newest finished render instead of waiting for the fader to stop. Requests that
were replaced before they started are never rendered (:attr:`skipped`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

Request = TypeVar("Request")


@dataclass(frozen=True)
class RenderResult(Generic[Request]):
    """The outcome of one request: ``value`` if rendering worked, else ``error``."""

    request_id: int
    request: Request
    value: Any = None
    error: BaseException | None = None


class LatestWinsRenderer(Generic[Request]):
    """Run ``render(request)`` on one worker thread, always for the newest request.

    ``on_result(RenderResult)`` is called on the worker thread for every
    finished render (errors included, as ``RenderResult.error``). Use as a
    context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        render: Callable[[Request], Any],
        on_result: Callable[[RenderResult[Request]], None],
        *,
        name: str = "fader-render",
    ) -> None:
        self._render = render
        self._on_result = on_result
        self._cond = threading.Condition()
        self._pending: tuple[int, Request] | None = None
        self._tasks: deque[tuple[Future, Callable[..., Any], tuple[Any, ...]]] = deque()
        self._latest_id = 0
        self._busy = False
        self._closed = False
        self._renders = 0
        self._skipped = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def latest_id(self) -> int:
        """The id of the newest request submitted (0 before the first)."""
        return self._latest_id

    @property
    def renders(self) -> int:
        """How many requests were actually rendered."""
        return self._renders

    @property
    def skipped(self) -> int:
        """How many requests were replaced by a newer one before they started (never rendered)."""
        return self._skipped

    def submit(self, request: Request) -> int:
        """Queue ``request`` in place of any pending one; return its id. Never blocks on a render."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the renderer is closed")
            self._latest_id += 1
            if self._pending is not None:
                self._skipped += 1
            self._pending = (self._latest_id, request)
            self._cond.notify()
            return self._latest_id

    def call(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run ``function(*args)`` on the worker thread after earlier calls, before any pending render.

        Returns a :class:`~concurrent.futures.Future` with its result or exception.
        """
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the renderer is closed")
            self._tasks.append((future, function, args))
            self._cond.notify()
        return future

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or rendering; ``False`` if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._pending is None and not self._tasks and not self._busy, timeout
            )

    def close(self, timeout: float | None = 5.0) -> None:
        """Drop any pending request and call, let a running one finish, and stop the thread."""
        with self._cond:
            self._closed = True
            self._pending = None
            for future, _, _ in self._tasks:
                future.cancel()
            self._tasks.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> LatestWinsRenderer[Request]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._tasks or self._closed)
                if self._closed:
                    return
                task = self._tasks.popleft() if self._tasks else None
                if task is None:
                    request_id, request = self._pending
                    self._pending = None
                self._busy = True
            if task is not None:
                self._run_task(*task)
            else:
                self._run_render(request_id, request)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    @staticmethod
    def _run_task(future: Future, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(function(*args))
        except BaseException as e:  # the caller gets it through the future
            future.set_exception(e)

    def _run_render(self, request_id: int, request: Request) -> None:
        try:
            result = RenderResult(request_id, request, value=self._render(request))
        except Exception as e:  # delivered to the caller, the worker lives on
            result = RenderResult(request_id, request, error=e)
        with self._cond:
            self._renders += 1
            closed = self._closed
        if not closed:
            try:
                self._on_result(result)
            except Exception:
                log.exception("render result handler failed")
