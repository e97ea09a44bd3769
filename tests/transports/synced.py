"""An async transport driven from sync code, so that the transport contract
tests (``test_transports.py``, ``test_proxies.py``) also run on the async
twins: every step is a coroutine run on an event loop in a helper thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

from llmplug.core.http import AsyncTransport, Request, Response, Transport

_loops: list[asyncio.AbstractEventLoop] = []


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to its end on the shared loop thread (started on first use)."""
    if not _loops:
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="synced-transports", daemon=True).start()
        _loops.append(loop)
    return asyncio.run_coroutine_threadsafe(coro, _loops[0]).result()


async def _next(chunks: AsyncIterator[bytes]) -> bytes:
    return await chunks.__anext__()


class SyncedStream:
    """An async transport's body read with a plain ``for``."""

    def __init__(self, wrapped: Any) -> None:
        #: The transport's own stream.
        self.wrapped = wrapped

    @property
    def closed(self) -> bool:
        return self.wrapped.closed

    def __iter__(self) -> Iterator[bytes]:
        chunks = self.wrapped.__aiter__()
        while True:
            try:
                yield run(_next(chunks))
            except StopAsyncIteration:
                return

    def close(self) -> None:
        run(self.wrapped.aclose())


class Synced(Transport):
    """``inner`` (an :class:`AsyncTransport`) with the sync transport's API."""

    def __init__(self, inner: AsyncTransport) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    def send(self, request: Request) -> Response:
        response = run(self.inner.send(request))
        response.stream = SyncedStream(response.stream)
        return response

    def close(self) -> None:
        run(self.inner.aclose())
