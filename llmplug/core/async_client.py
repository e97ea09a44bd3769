"""AsyncClient: :class:`~llmplug.core.client.Client` on the async driver.

Every method of the sync client that runs a call is here a coroutine
function with the same arguments and the same result; the methods are not
written twice: each is the sync client's own, awaited (``BaseClient.CALLS``).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from typing import Any, ClassVar

from .async_dispatch import AsyncDispatcher
from .bulk import Call, Progress, map_unordered
from .base_client import BaseClient

__all__ = ["AsyncClient", "coroutine_method", "map_on_async_twin"]


def coroutine_method(method: Callable[..., Any], owner: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``method`` of a sync class, which returns an awaitable when its object is
    async, as a coroutine function of class ``owner``: same name, signature and
    docstring, and a bad argument raises on ``await``, as in openai-python."""

    @functools.wraps(method)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await method(self, *args, **kwargs)

    run.__qualname__ = f"{owner}.{method.__name__}"
    return run


class AsyncClient(BaseClient):
    """An async client for one provider. Build it with :func:`llmplug.new_async`;
    ``async with`` closes it. Streams are :class:`~llmplug.core.streaming.AsyncStream`;
    a stream callback may be a plain function or a coroutine function."""

    session_classes: ClassVar[dict[str, type]] = {}
    _driver = AsyncDispatcher
    _asynchronous = True

    for _name in BaseClient.CALLS:
        locals()[_name] = coroutine_method(getattr(BaseClient, _name), "AsyncClient")
    del _name

    @staticmethod
    def _drive_plan(plan: Any) -> Any:
        """Run a plan on this loop: the coroutine to await."""
        from .plans import adrive

        return adrive(plan)

    async def map(
        self,
        calls: Iterable[Call | Mapping[str, Any]],
        *,
        concurrency: int = 32,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        progress: Callable[[Progress], Any] | None = None,
    ) -> list[Any]:
        """Run ``calls`` (``llmplug.call("chat.create", messages=...)`` each), at most
        ``concurrency`` at once under one shared pace (see :mod:`llmplug.core.bulk`);
        the results in input order, each the :class:`ApiResult` or the exception
        of its call. ``progress(Progress)`` is called as each call ends."""
        results: dict[int, Any] = {}
        async for index, outcome in self.map_unordered(
            calls, concurrency=concurrency, requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute, progress=progress,
        ):
            results[index] = outcome
        return [results[index] for index in range(len(results))]

    def map_unordered(self, calls: Iterable[Call | Mapping[str, Any]], **options: Any) -> AsyncIterator[tuple[int, Any]]:
        """:meth:`map`, yielding ``(index, result)`` as each call ends (for writing
        results as they come)."""
        return map_unordered(self, calls, **options)

    async def aclose(self) -> None:
        """Close the transport's connections; the client cannot be used after."""
        self._closed = True
        await self._dispatch.aclose()

    close = aclose  # openai-python's AsyncOpenAI spells it ``await client.close()``

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def map_on_async_twin(provider: str, options: dict[str, Any], calls: Iterable[Any], map_options: dict[str, Any]) -> list[Any]:
    """``AsyncClient(provider, **options).map(calls, **map_options)`` on an event
    loop of its own in a thread (so a sync caller inside a running loop works too)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def run() -> list[Any]:
        async with AsyncClient(provider, **options) as client:
            return await client.map(calls, **map_options)

    with ThreadPoolExecutor(1, thread_name_prefix="llmplug-map") as pool:
        return pool.submit(asyncio.run, run()).result()
