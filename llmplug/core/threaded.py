"""An async transport made of a sync one: each blocking step runs in a
bounded thread pool, so any sync transport (the stdlib one: no dependency)
serves :func:`llmplug.new_async`. Transport-neutral on purpose: it knows
nothing of the sockets under the transport it wraps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from .http import AsyncTransport, Request, Response, Transport

__all__ = ["ThreadedAsyncTransport", "threaded"]

T = TypeVar("T")
_END: Any = object()


class ThreadedAsyncTransport(AsyncTransport):
    """``transport`` (sync) driven from a pool of at most ``max_workers`` threads:
    that many requests are in flight at once, the rest wait their turn. A
    cancelled send closes the response its thread still gets."""

    def __init__(self, transport: Transport, max_workers: int = 32) -> None:
        self._transport = transport
        self.name = transport.name  # type: ignore[misc]
        from concurrent.futures import ThreadPoolExecutor  # loaded by async clients only

        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix=f"llmplug-{transport.name}")

    async def _run(self, step: Callable[[], T], on_late: Callable[[T], Any] | None = None) -> T:
        import asyncio
        future = asyncio.get_running_loop().run_in_executor(self._pool, step)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if on_late is not None:  # the thread goes on: release what it opens
                future.add_done_callback(lambda done: done.cancelled() or done.exception() or on_late(done.result()))
            raise

    async def send(self, request: Request) -> Response:
        response = await self._run(lambda: self._transport.send(request), Response.close)
        response.stream = _ThreadedBody(response.stream, self)
        return response

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._transport.close()


class _ThreadedBody:
    """A sync body read with ``async for``: each read runs in the pool."""

    def __init__(self, stream: Any, transport: ThreadedAsyncTransport) -> None:
        self._stream = stream
        self._transport = transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = iter(self._stream)
        try:
            while (chunk := await self._transport._run(lambda: next(chunks, _END))) is not _END:
                yield chunk
        finally:
            self._stream.close()  # thread-safe; a read still running ends with the connection

    async def aclose(self) -> None:
        self._stream.close()


def threaded(factory: Callable[..., Transport], max_workers: int = 32) -> Callable[..., AsyncTransport]:
    """An ``async_factory`` for a :class:`~llmplug.core.specs.TransportSpec`: the sync
    transport ``factory`` builds, run in a pool of ``max_workers`` threads."""

    def build(**options: Any) -> AsyncTransport:
        return ThreadedAsyncTransport(factory(**options), max_workers)

    return build
