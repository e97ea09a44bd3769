"""Bulk runs: ``client.map`` over the fake API through every async transport."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import llmplug
from llmplug.testing import FakeAPI
from tests.conftest import TEST_KEY
from tests.test_async import async_transport  # noqa: F401  # the async transports fixture

CHAT = ("POST", "/v1/chat/completions")


def chats(count: int) -> list[llmplug.Call]:
    return [llmplug.call("chat.create", messages=[{"role": "user", "content": f"n{i}"}]) for i in range(count)]


def run_map(api: FakeAPI, transport: str, calls: Any, **options: Any) -> list[Any]:
    client_options = {key: options.pop(key) for key in ("max_retries", "retry") if key in options}

    async def main() -> list[Any]:
        async with llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport,
                                     **client_options) as client:
            return await client.map(calls, **options)

    return asyncio.run(main())


def test_a_thousand_calls_with_429s_slow_every_worker(api, async_transport):
    api.latency = 0.05
    queued_at: list[float] = []

    def progress(p: llmplug.Progress) -> None:
        if p.done == 300:  # mid-run, the server starts refusing
            queued_at.append(time.monotonic())
            api.queue(*CHAT, status=429, headers={"retry-after-ms": "200"}, times=3)

    results = run_map(api, async_transport, chats(1000), concurrency=32, progress=progress, max_retries=5)
    assert [r.body.content for r in results] == [f"You said: n{i}" for i in range(1000)]  # all, in input order
    refused_at = queued_at[0]
    before = [r.in_flight for r in api.requests if r.received_at < refused_at]
    # Past the 0.2 s pause: half as many in flight, regrowing by one per round of successes.
    after = [r.in_flight for r in api.requests if r.received_at > refused_at + 0.3][:50]
    assert len(after) == 50
    assert max(after) <= 0.75 * max(before), (max(before), max(after))
    assert max(before) >= 16  # the run was concurrent before the 429s


def test_one_failure_never_loses_the_others(api, async_transport):
    api.queue(*CHAT, status=500, json={"error": {"message": "boom"}})
    calls: list[Any] = [*chats(20), llmplug.call("chat.create", messages=[]), {"operation": "models.list"}]
    results = run_map(api, async_transport, calls, concurrency=4, max_retries=0)
    assert len(results) == 22
    failures = [r for r in results[:20] if isinstance(r, Exception)]
    assert len(failures) == 1 and isinstance(failures[0], llmplug.InternalServerError)
    assert all(r.body.content == f"You said: n{i}" for i, r in enumerate(results[:20]) if not isinstance(r, Exception))
    assert isinstance(results[20], llmplug.BadRequestError) and "empty array" in str(results[20])  # kept in its place
    assert "gpt-4.1" in results[21].body.ids


def test_requests_per_minute_spaces_the_starts(api, async_transport):
    run_map(api, async_transport, chats(4), concurrency=4, requests_per_minute=600)  # one every 0.1 s
    arrivals = sorted(r.received_at for r in api.requests)
    assert len(arrivals) == 4
    assert all(later - earlier >= 0.08 for earlier, later in zip(arrivals, arrivals[1:]))


def test_tokens_per_minute_holds_back_what_does_not_fit(api, async_transport):
    calls = [llmplug.call("chat.create", messages=[{"role": "user", "content": "x"}], max_tokens=600) for _ in range(3)]
    started = time.monotonic()

    async def main() -> list[Any]:
        async with llmplug.new_async("openai", api_key=TEST_KEY, base_url=api.base_url, transport=async_transport) as client:
            task = asyncio.create_task(client.map(calls, concurrency=3, tokens_per_minute=1000))
            await asyncio.sleep(0.5)
            sent = len(api.requests)  # one call's budget fits, not two
            task.cancel()
            return [sent]

    assert asyncio.run(main()) == [1]
    assert time.monotonic() - started < 5


def test_progress_reports_counts_rate_and_eta(api, async_transport):
    seen: list[llmplug.Progress] = []
    run_map(api, async_transport, chats(10), concurrency=3, progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 11))
    assert all(p.total == 10 and p.failed == 0 for p in seen)
    assert seen[-1].rate > 0 and seen[-1].eta == 0


def test_a_generator_of_calls_is_taken_lazily(api, async_transport):
    taken: list[int] = []

    def calls() -> Any:
        for i in range(12):
            taken.append(i)
            yield llmplug.call("chat.create", messages=[{"role": "user", "content": f"n{i}"}])

    results = run_map(api, async_transport, calls(), concurrency=2)
    assert [r.body.content for r in results] == [f"You said: n{i}" for i in range(12)]
    assert taken == list(range(12))


def test_bad_input_is_refused_with_what_to_fix(api, async_transport):
    with pytest.raises(llmplug.ConfigurationError, match="concurrency must be a whole number"):
        run_map(api, async_transport, chats(1), concurrency=0)
    results = run_map(api, async_transport, [object(), llmplug.call("chat.create", messages=[{"role": "user", "content": "x"}], stream=True)])
    assert "llmplug.call(operation, **params)" in str(results[0])
    assert "drop stream=True" in str(results[1])
    with pytest.raises(llmplug.ConfigurationError, match="needs an operation name such as 'chat.create'"):
        llmplug.call("")


def test_sync_map_runs_on_an_async_twin_even_inside_a_running_loop(api, transport):
    if transport.startswith("async-"):
        pytest.skip("a sync client's transports")
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport) as client:
        assert [r.body.content for r in client.map(chats(5), concurrency=2)] == [f"You said: n{i}" for i in range(5)]

        async def inside() -> list[Any]:
            return client.map(chats(2))

        assert [r.body.content for r in asyncio.run(inside())] == ["You said: n0", "You said: n1"]
    assert all(r.headers["authorization"] == f"Bearer {TEST_KEY}" for r in api.requests)
