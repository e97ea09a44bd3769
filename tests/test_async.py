"""The async client in its own terms: ``async for``, ``async with``, coroutine
callbacks, cancellation, and what only an async client can get wrong. (Every
sync test also runs through the async client: see tests/async_bridge.py.)"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest

import llmplug
from llmplug.plugin import AsyncTransport, hookimpl
from llmplug.testing import FakeAPI
from tests.conftest import TEST_KEY

USER = [{"role": "user", "content": "Say hello"}]
ASYNC = ("aiohttp", "httpx", "httpx2", "urllib")


@pytest.fixture(params=ASYNC)
def async_transport(request: pytest.FixtureRequest) -> str:
    return request.param


def run(api: FakeAPI, transport: str, body: Callable[[llmplug.AsyncClient], Any], **options: Any) -> Any:
    """``body(client)`` on a fresh event loop, with an async client on the fake API."""

    async def main() -> Any:
        options.setdefault("max_retries", 0)
        async with llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, **options) as client:
            return await body(client)

    return asyncio.run(main())


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def slow_stream(api: FakeAPI, count: int = 200) -> None:
    events = [
        {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]}
        for i in range(count)
    ]
    api.queue("POST", "/v1/chat/completions", events=[*events, "data: [DONE]\n\n"], interval=0.01)


def test_methods_are_coroutine_functions_with_the_sync_signatures():
    for name in llmplug.AsyncClient.CALLS:
        method = getattr(llmplug.AsyncClient, name)
        assert inspect.iscoroutinefunction(method), name
        assert inspect.signature(method) == inspect.signature(getattr(llmplug.Client, name)), name
    assert llmplug.AsyncClient.file.__qualname__ == "AsyncClient.file"


def test_bad_arguments_raise_on_await_not_on_call(api, async_transport):
    async def body(client: llmplug.AsyncClient) -> None:
        pending = client.create_chat_completion([])  # nothing raised yet: a coroutine
        with pytest.raises(llmplug.ConfigurationError, match="needs messages"):
            await pending

    run(api, async_transport, body)
    assert api.requests == []


def test_async_for_stream_and_final(api, async_transport):
    async def body(client: llmplug.AsyncClient) -> tuple[str, Any]:
        stream = await client.create_chat_completion(USER, stream=True)
        assert isinstance(stream, llmplug.AsyncStream)
        async with stream:
            text = "".join([str(chunk) async for chunk in stream])
        return text, stream.final

    text, final = run(api, async_transport, body)
    assert text == "You said: Say hello" == final.choices[0].message.content


def test_coroutine_callback_is_awaited_in_order(api, async_transport):
    seen: list[str] = []

    async def on_chunk(chunk: Any, raw: Any) -> None:
        await asyncio.sleep(0)
        seen.append(str(chunk))

    async def body(client: llmplug.AsyncClient) -> Any:
        return await client.chat(USER, on_chunk)

    result = run(api, async_transport, body)
    assert "".join(seen) == "You said: Say hello" == result.body.choices[0].message.content


def test_early_exit_closes_the_connection(api, async_transport):
    slow_stream(api)

    async def body(client: llmplug.AsyncClient) -> None:
        stream = await client.create_chat_completion(USER, stream=True)
        async with stream:
            async for i, _ in _enumerate(stream):
                if i == 2:
                    break
        with pytest.raises(llmplug.StreamError, match="closed before its end"):
            stream.final

    run(api, async_transport, body)
    assert wait_until(lambda: api.aborted_streams == 1)


def test_cancelling_the_reading_task_closes_the_connection(api, async_transport):
    slow_stream(api)

    async def body(client: llmplug.AsyncClient) -> int:
        got: list[Any] = []
        stream = await client.create_chat_completion(USER, stream=True)

        async def read() -> None:
            async for chunk in stream:
                got.append(chunk)

        task = asyncio.create_task(read())
        while len(got) < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return len(got)

    assert run(api, async_transport, body) < 200
    assert wait_until(lambda: api.aborted_streams == 1)


def test_cancelling_a_callback_call_closes_the_connection(api, async_transport):
    slow_stream(api)

    async def body(client: llmplug.AsyncClient) -> None:
        task = asyncio.create_task(client.chat(USER, lambda chunk, raw: None))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(api, async_transport, body)
    assert wait_until(lambda: api.aborted_streams == 1)


def test_many_calls_at_once_share_the_client(api, async_transport):
    async def body(client: llmplug.AsyncClient) -> list[str]:
        results = await asyncio.gather(
            *(client.create_chat_completion([{"role": "user", "content": f"n{i}"}]) for i in range(40))
        )
        return [result.body.content for result in results]

    assert run(api, async_transport, body) == [f"You said: n{i}" for i in range(40)]


def test_retry_waits_with_the_async_sleep(api, async_transport):
    api.queue("POST", "/v1/chat/completions", status=503, json={"error": {"message": "busy"}})
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async def body(client: llmplug.AsyncClient) -> Any:
        return await client.create_chat_completion(USER)

    policy = llmplug.RetryPolicy(asleep=record, random=lambda: 0.0)
    result = run(api, async_transport, body, retry=policy, max_retries=1)
    assert result.body.content == "You said: Say hello"
    assert waits == [0.5]


def test_total_timeout_bounds_a_slow_stream(api, async_transport):
    slow_stream(api, count=400)

    async def body(client: llmplug.AsyncClient) -> None:
        stream = await client.create_chat_completion(USER, stream=True, timeout=llmplug.Timeout(total=0.5))
        with pytest.raises(llmplug.APITimeoutError, match="total timeout of 0.5s") as info:
            async for _ in stream:
                pass
        assert isinstance(info.value, llmplug.StreamError) and info.value.received  # what arrived is kept

    started = time.monotonic()
    run(api, async_transport, body)
    assert time.monotonic() - started < 4  # not the 4 s the whole stream takes


def test_a_sync_only_transport_is_refused_naming_the_async_ones(api):
    with pytest.raises(llmplug.ConfigurationError, match="'requests' has no async twin.*async transports: aiohttp, httpx, httpx2, urllib"):
        llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url, transport="requests")


def test_a_sync_transport_instance_is_refused():
    from llmplug.transports.urllib import UrllibTransport

    with UrllibTransport() as sync_transport, pytest.raises(TypeError, match="AsyncTransport instance"):
        llmplug.new_async("openai", api_key=TEST_KEY, transport=sync_transport)


def test_create_transport_hook_must_build_the_kind_asked_for(api):
    from llmplug.transports.urllib import UrllibTransport

    class WrongKind:
        @hookimpl
        def llmplug_create_transport(self, spec, options, asynchronous):
            return UrllibTransport() if asynchronous else None

    plugins = llmplug.PluginManager()
    plugins.register(WrongKind(), name="wrong-kind")
    with pytest.raises(llmplug.PluginError, match="built a UrllibTransport .* not the AsyncTransport"):
        llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url, plugins=plugins)


def test_async_transport_instance_is_used_as_given(api):
    from llmplug.transports.httpx import AsyncHttpxTransport

    async def main() -> str:
        transport = AsyncHttpxTransport()
        assert isinstance(transport, AsyncTransport)
        async with llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport) as client:
            assert client.transport is transport
            return (await client.create_chat_completion(USER)).body.content

    assert asyncio.run(main()) == "You said: Say hello"


async def _enumerate(stream: llmplug.AsyncStream[Any]) -> Any:
    i = 0
    async for item in stream:
        yield i, item
        i += 1


# ---------------------------------------------------------------- sessions


def test_async_tools_of_one_turn_run_concurrently(api, async_transport):
    started: list[str] = []
    both = asyncio.Event()

    async def left(a: int) -> int:
        started.append("left")
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 2)  # run one after the other, this times out
        return a

    async def right(a: int) -> int:
        started.append("right")
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 2)
        return a * 10

    async def body(client: llmplug.AsyncClient) -> Any:
        session = client.new_chat_session()
        assert isinstance(session, llmplug.AsyncChatSession)
        reply = await session.run('call left and right {"a": 4}', [left, right])
        return reply, session.messages

    reply, messages = run(api, async_transport, body)
    assert [m["content"] for m in messages if m["role"] == "tool"] == ["4", "40"]  # in call order
    assert reply == "Tool result: 40"


def test_sync_tools_in_an_async_session_run_on_threads_at_once(api, async_transport):
    import threading

    barrier = threading.Barrier(2, timeout=2)  # one at a time on the loop, this breaks

    def left(a: int) -> int:
        barrier.wait()
        return a

    def right(a: int) -> int:
        barrier.wait()
        return a + 1

    async def body(client: llmplug.AsyncClient) -> Any:
        session = client.new_chat_session()
        await session.run('call left and right {"a": 4}', [left, right])
        return session.messages

    messages = run(api, async_transport, body)
    assert [m["content"] for m in messages if m["role"] == "tool"] == ["4", "5"]


def test_a_failed_async_run_leaves_the_session_as_it_was(api, async_transport):
    api.queue("POST", "/v1/chat/completions", status=400, json={"error": {"message": "no"}})

    async def body(client: llmplug.AsyncClient) -> Any:
        session = client.new_chat_session(messages=[{"role": "system", "content": "Be brief"}])
        with pytest.raises(llmplug.BadRequestError):
            await session.run("hi", {})
        return session.messages

    assert run(api, async_transport, body) == [{"role": "system", "content": "Be brief"}]


def test_a_coroutine_tool_in_a_sync_session_says_what_to_use(api):
    async def left(a: int) -> int:
        return a

    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url) as client:
        session = client.new_chat_session()
        with pytest.raises(llmplug.ConfigurationError, match="'left' is a coroutine function: run it with an async session"):
            session.run('call left {"a": 1}', [left])
        assert session.messages == []


def test_async_responses_session_streams_to_a_coroutine_callback(api, async_transport):
    pieces: list[str] = []

    async def on_text(chunk: Any, raw: Any) -> None:
        pieces.append(str(chunk))

    async def body(client: llmplug.AsyncClient) -> Any:
        session = client.new_responses_chat_session()
        assert isinstance(session, llmplug.AsyncResponsesChatSession)
        first = await session.send("Hello", on_text)
        second = await session.send("Again")
        return first, second, session

    first, second, session = run(api, async_transport, body)
    assert "".join(pieces) == first.output_text == "You said: Hello"
    assert session.current_response_id == second.id and api.last_request.json["previous_response_id"] == first.id


def test_a_sync_session_refuses_an_async_client(api):
    async def main() -> None:
        async with llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url) as client:
            with pytest.raises(TypeError, match="ChatSession needs a sync client"):
                llmplug.ChatSession(client)

    asyncio.run(main())
