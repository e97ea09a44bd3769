"""What only the async-only transport (aiohttp) can get wrong: its session is
made lazily inside the loop, and the whole client sends through it exactly
the headers it sends through httpx. (The transport contract runs on it as
``async-aiohttp`` in ``test_transports.py`` and ``test_proxies.py``.)"""

from __future__ import annotations

import asyncio
from typing import Any

import llmplug
from llmplug.core.http import Request
from llmplug.testing import FakeAPI
from llmplug.transports.aiohttp import AiohttpTransport
from tests.conftest import TEST_KEY

USER = [{"role": "user", "content": "Say hello"}]


def wire_headers(api: FakeAPI, transport: str) -> list[list[tuple[str, str]]]:
    """The headers of a plain call, a streamed one, a GET and a bare POST (a request
    with no header of its own), as the fake API received them."""

    async def main() -> None:
        async with llmplug.new_async(
            "openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, max_retries=0
        ) as client:
            await client.create_chat_completion(USER)
            stream = await client.create_chat_completion(USER, stream=True)
            async with stream:
                async for _ in stream:
                    pass
            await client.models()
            bare = Request("POST", f"{api.base_url}/chat/completions", content=b"{}")
            await (await client.transport.send(bare)).aread()

    api.reset()
    asyncio.run(main())
    return [sorted((name.lower(), value) for name, value in r.raw_headers) for r in api.requests]


def test_aiohttp_sends_the_headers_httpx_sends(api: FakeAPI) -> None:
    through_httpx = wire_headers(api, "httpx")
    through_aiohttp = wire_headers(api, "aiohttp")
    assert len(through_aiohttp) == 4
    assert {name for name, _ in through_aiohttp[3]} == {"host", "accept-encoding", "content-length"}
    assert through_aiohttp == through_httpx


def test_aiohttp_session_is_made_in_the_loop_on_first_send(api: FakeAPI) -> None:
    transport = AiohttpTransport()  # outside any loop: nothing of aiohttp's is made yet
    assert transport._session is None

    async def main() -> Any:
        await transport.aclose()  # closing an unused transport is fine
        async with llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url, transport=AiohttpTransport()) as client:
            assert client.transport._session is None
            result = await client.create_chat_completion(USER)
            return result.body.content, client.transport._session

    content, session = asyncio.run(main())
    assert content == "You said: Say hello"
    assert session.closed  # aclose() closed it
