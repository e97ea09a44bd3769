"""Runs the sync test suite through the async client.

``AsyncBridge`` holds a real :class:`llmplug.AsyncClient` (real async
transport, real sockets) and presents the sync client's API: each call is a
coroutine run to completion on an event loop in a helper thread, and an
:class:`~llmplug.AsyncStream` is read through a sync iterator. So every test
written against ``llmplug.new(..., transport=...)`` also runs with
``transport="async-httpx"`` / ``"async-urllib"`` (see ``tests/conftest.py``),
checking that the async client gives the same results and errors.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any

import llmplug
from llmplug.core.base_client import BaseClient

PREFIX = "async-"


class _Loop:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="async-bridge", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()



class SyncStream:
    """An AsyncStream read from sync code."""

    def __init__(self, stream: llmplug.AsyncStream[Any], loop: _Loop) -> None:
        self._stream = self.async_stream = stream
        self._loop = loop

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            return self._loop.run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._loop.run(self._stream.aclose())

    def until_done(self) -> Any:
        return self._loop.run(self._stream.until_done())

    def snapshots(self) -> Iterator[Any]:
        snapshots = self._stream.snapshots()
        while True:
            try:
                yield self._loop.run(snapshots.__anext__())
            except StopAsyncIteration:
                return

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_shared: list[_Loop] = []


def _shared_loop() -> _Loop:
    """One loop thread serves every bridge of the test run."""
    if not _shared:
        _shared.append(_Loop())
    return _shared[0]


class SyncSession:
    """An async session (AsyncChatSession...) used from sync code: its coroutine
    methods run on the bridge's loop; every other attribute is the session's own."""

    def __init__(self, session: Any, loop: _Loop) -> None:
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "_loop", loop)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.session, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *args, **kwargs: self._loop.run(attr(*args, **kwargs))
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.session, name, value)

    def __repr__(self) -> str:
        return repr(self.session)


class SyncBatchJob:
    """A BatchJob of an async client used from sync code: what its methods return
    to await runs on the bridge's loop; other attributes are the job's own."""

    def __init__(self, job: Any, loop: _Loop) -> None:
        self.job = job
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.job, name)
        if not callable(attr):
            return attr

        def run(*args: Any, **kwargs: Any) -> Any:
            outcome = attr(*args, **kwargs)
            return self._loop.run(outcome) if inspect.isawaitable(outcome) else outcome

        return run

    def __repr__(self) -> str:
        return repr(self.job)


class AsyncBridge:
    """An AsyncClient with the sync client's API (see the module docstring)."""

    def __init__(self, provider: str = "openai", **options: Any) -> None:
        self._loop = _shared_loop()
        transport = options.get("transport")
        if isinstance(transport, str) and transport.startswith(PREFIX):
            options["transport"] = transport[len(PREFIX):]
        retry = options.get("retry")
        if retry is not None and retry.asleep is None and retry.sleep is not time.sleep:  # a test's recording sleep
            options["retry"] = _with_async_sleep(retry)
        self.client = self._loop.run(_build(provider, options))

    def _call(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = self._loop.run(method(*args, **kwargs))
            if isinstance(result, llmplug.AsyncStream):
                return SyncStream(result, self._loop)
            from llmplug.core.batch_jobs import BatchJob

            return SyncBatchJob(result, self._loop) if isinstance(result, BatchJob) else result

        return call

    def __getattr__(self, name: str) -> Any:
        if name in BaseClient.CALLS:
            return self._call(name)
        return getattr(self.client, name)

    def new_chat_session(self, **opts: Any) -> Any:
        return SyncSession(self.client.new_chat_session(**opts), self._loop)

    def new_responses_chat_session(self, **opts: Any) -> Any:
        return SyncSession(self.client.new_responses_chat_session(**opts), self._loop)

    def close(self) -> None:
        self._loop.run(self.client.aclose())

    def __enter__(self) -> AsyncBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self.client)


async def _build(provider: str, options: dict[str, Any]) -> llmplug.AsyncClient:
    return llmplug.new_async(provider, **options)


def _with_async_sleep(retry: llmplug.RetryPolicy) -> llmplug.RetryPolicy:
    import attrs

    sleep = retry.sleep

    async def asleep(seconds: float) -> None:
        sleep(seconds)

    return attrs.evolve(retry, asleep=asleep)


#: The bridges made during the current test (the conftest closes them after it).
opened: list[AsyncBridge] = []


def new(provider: str = "openai", **options: Any) -> Any:
    """``llmplug.new``, but an ``async-`` transport name gives an :class:`AsyncBridge`."""
    transport = options.get("transport")
    if isinstance(transport, str) and transport.startswith(PREFIX):
        bridge = AsyncBridge(provider, **options)
        opened.append(bridge)
        return bridge
    return _sync_new(provider, **options)


def close_opened() -> None:
    """Close the bridges a test left open (their connections, not left to the collector)."""
    while opened:
        bridge = opened.pop()
        if not bridge.client._closed:
            bridge.close()


_sync_new = llmplug.new


class _BridgedSession:
    """An async session class used like its sync twin: ``Cls(bridge, ...)`` and
    ``Cls.from_dict(bridge, data)`` give the async session behind a SyncSession."""

    def __init__(self, cls: type, loop: _Loop) -> None:
        self.cls = cls
        self._loop = loop

    def __call__(self, client: AsyncBridge, *args: Any, **kwargs: Any) -> SyncSession:
        return SyncSession(self.cls(client.client, *args, **kwargs), self._loop)

    def from_dict(self, client: AsyncBridge, data: Any) -> SyncSession:
        return SyncSession(self.cls.from_dict(client.client, data), self._loop)


def session_classes(client: Any) -> tuple[Any, Any]:
    """The chat and Responses session classes for ``client``: the sync ones, or
    for a bridge the async ones, built and used as the sync ones are."""
    if isinstance(client, AsyncBridge):
        from llmplug.sessions.asynchronous import AsyncChatSession, AsyncResponsesChatSession

        return _BridgedSession(AsyncChatSession, client._loop), _BridgedSession(AsyncResponsesChatSession, client._loop)
    return llmplug.ChatSession, llmplug.ResponsesChatSession


def unwrap(value: Any) -> Any:
    """The object behind a bridge wrapper (a session, a stream), else ``value``."""
    return getattr(value, "session", None) or getattr(value, "async_stream", None) or value
