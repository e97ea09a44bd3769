"""A call's total deadline, enforced even inside one blocking read.

A sync transport cannot be interrupted in the middle of a read: a server that
trickles the response head one byte at a time, or goes silent just before the
deadline, would keep the caller waiting for the whole read timeout. So when a
call has a total deadline, its blocking steps (sending and awaiting the head,
then each read of the body) run on one helper thread of that call while the
caller waits at most until the deadline. When it passes, the caller gets
:class:`~llmplug.core.errors.APITimeoutError` at once; the helper finishes the
read it is stuck in (bounded by the read timeout) and then closes the
response, so the connection is never used by two threads at a time.

Transport-neutral on purpose: it works for every transport, built-in or a
plugin's, without knowing its sockets. Calls without a total deadline (the
default) never use it. The async driver gets the same from task cancellation.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .errors import APITimeoutError
from .http import ByteStream, Request, redact_url

__all__ = ["Deadline", "DeadlineStream", "total_timeout_error"]

T = TypeVar("T")

_STOP: Any = object()


class Deadline:
    """The total deadline of one call and the helper thread its blocking steps run on."""

    def __init__(self, at: float, total: float) -> None:
        self.at = at
        self.total = total
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.passed = False

    def left(self) -> float:
        return self.at - time.monotonic()

    def run(self, step: Callable[[], T], request: Request, what: str, on_late: Callable[[T], Any] | None = None) -> T:
        """``step()`` on the helper thread, waiting at most until the deadline.

        ``what`` names the step in the error ("waiting for the response to",
        "reading the response body of"). If the deadline passes first,
        ``on_late(result)`` runs on the helper once the step is done (to close
        what it opened) and APITimeoutError is raised now.
        """
        if self.passed or self.left() <= 0:
            self.passed = True
            raise self.timeout(request, what)
        done = threading.Event()
        lock = threading.Lock()
        box: list[tuple[bool, Any]] = []

        def job() -> None:
            try:
                outcome = (True, step())
            except BaseException as exc:  # handed to the caller below
                outcome = (False, exc)
            with lock:
                box.append(outcome)
                late = self.passed
            done.set()
            if late and outcome[0] and on_late is not None:
                on_late(outcome[1])

        self._start()
        self._jobs.put(job)
        if not done.wait(max(self.left(), 0.0)):
            with lock:
                if not box:  # still running: the caller stops waiting, the helper cleans up
                    self.passed = True
            if self.passed:
                raise self.timeout(request, what)
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def later(self, action: Callable[[], Any]) -> None:
        """Run ``action`` on the helper after whatever it is doing (a late close)."""
        if self._thread is None:
            action()
        else:
            self._jobs.put(action)

    def stop(self) -> None:
        """Let the helper thread end once its queue is done; a later step starts a new one."""
        if self._thread is not None:
            self._jobs.put(_STOP)
            self._thread = None
            self._jobs = queue.SimpleQueue()

    def timeout(self, request: Request, what: str) -> APITimeoutError:
        return total_timeout_error(self.total, request, what)

    def _start(self) -> None:
        if self._thread is None:
            # A daemon: a read stuck past the deadline must not hold up interpreter exit.
            self._thread = threading.Thread(target=_work, args=(self._jobs,), name="llmplug-deadline", daemon=True)
            self._thread.start()


def total_timeout_error(total: float, request: Request, what: str) -> APITimeoutError:
    """The error of a call whose total deadline passed while ``what`` ``request``."""
    error = APITimeoutError(
        f"total timeout of {total}s reached while {what} {request.method} {redact_url(request.url)}", request=request
    )
    error.deadline_passed = True  # type: ignore[attr-defined]  # no time left for a retry
    return error


def _work(jobs: queue.SimpleQueue[Any]) -> None:
    """The helper thread: run jobs in order until told to stop."""
    while True:
        job = jobs.get()
        if job is _STOP:
            return
        job()


class DeadlineStream:
    """A body stream whose every read waits at most until the call's deadline;
    past it, :class:`~llmplug.core.errors.APITimeoutError` ("total timeout of N s
    reached while reading the response body of ...")."""

    _WHAT = "reading the response body of"

    def __init__(self, stream: ByteStream, deadline: Deadline, request: Request) -> None:
        self._stream = stream
        self._deadline = deadline
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._stream)
        run = self._deadline.run
        while True:
            chunk = run(lambda: next(chunks, None), self._request, self._WHAT)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        """Close the body: at once, or after the read the helper is stuck in."""
        if self._deadline.passed:
            self._deadline.later(self._stream.close)
        else:
            self._stream.close()
        self._deadline.stop()
