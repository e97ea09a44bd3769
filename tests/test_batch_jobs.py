"""Batch jobs on the providers' engines (``submit_batch``, ``BatchJob``,
``batch_job``) against the fake API's batch engines on 127.0.0.1, every
transport, sync and async; the fake's batch clock is moved by the jobs'
own waits, so a 24-hour job runs in a moment."""

from __future__ import annotations

import json
from typing import Any

import pytest

import llmplug
from llmplug.core.models import ChatCompletion
from llmplug.plugin import BatchRequestError
from llmplug.testing import FakeAPI
from llmplug.testing.gemini_api import gemini_service
from llmplug.testing.openai_api import openai_service
from tests.conftest import TEST_KEY


def clients(api: FakeAPI, transport: str, provider: str) -> Any:
    url = api.base_url if provider == "openai" else api.url + "/v1beta"
    return llmplug.new(provider, api_key=TEST_KEY, base_url=url, transport=transport, max_retries=0)


@pytest.fixture(params=["openai", "gemini"])
def provider(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client(api: FakeAPI, transport: str, provider: str):
    with clients(api, transport, provider) as c:
        yield c


def prompts(count: int) -> list[tuple[str, dict[str, Any]]]:
    return [(f"req-{i}", {"messages": [{"role": "user", "content": f"Question {i}"}]}) for i in range(count)]


def run_to_end(api: FakeAPI, job: Any, **options: Any) -> Any:
    """Wait for ``job``, each wait moving the fake's batch clock instead of sleeping."""
    seen: list[Any] = []
    return job.wait(poll_interval=30, sleep=api.batch_clock.advance, progress=seen.append, **options), seen


def test_a_thousand_requests_from_submit_to_results(client, api, provider) -> None:
    job = client.submit_batch(prompts(1000))
    assert job.status == "validating" and len(job.custom_ids) == 1000
    final, polls = run_to_end(api, job)
    assert final.status == "completed" and final.request_counts.completed == 1000
    statuses = [batch.status for batch in polls]
    assert statuses[-1] == "completed" and "in_progress" in statuses  # it was seen working
    counts = [batch.request_counts.completed for batch in polls]
    assert counts == sorted(counts)
    results = list(job.results())
    assert [custom_id for custom_id, _ in results] == [f"req-{i}" for i in range(1000)]  # input order
    first = results[0][1]
    assert isinstance(first, ChatCompletion) and first.content == "You said: Question 0"
    assert all(result.content == f"You said: Question {i}" for i, (_, result) in enumerate(results))
    sync = client.create_chat_completion([{"role": "user", "content": "Question 7"}]).body
    assert results[7][1].content == sync.content  # what the synchronous call gives


def test_openai_uploads_one_jsonl_file(api, transport) -> None:
    with clients(api, transport, "openai") as client:
        job = client.submit_batch(prompts(3), metadata={"run": "nightly"})
    upload = next(r for r in api.requests if r.path == "/v1/files")
    lines = [json.loads(line) for line in upload.files["file"].data.splitlines()]
    assert lines[0] == {"custom_id": "req-0", "method": "POST", "url": "/v1/chat/completions",
                        "body": {"messages": [{"role": "user", "content": "Question 0"}], "model": "gpt-4.1"}}
    assert upload.form["purpose"] == "batch"
    created = api.requests[-1].json
    assert created["endpoint"] == "/v1/chat/completions" and created["metadata"] == {"run": "nightly"}
    assert job.batch.metadata == {"run": "nightly"} and job.id.startswith("batch_")


def test_gemini_sends_small_jobs_inline_and_big_ones_as_a_file(api, transport, monkeypatch) -> None:
    from llmplug.providers.gemini import batches

    with clients(api, transport, "gemini") as client:
        client.submit_batch(prompts(3))
        body = api.requests[-1].json["batch"]
        inline = body["inputConfig"]["requests"]["requests"]
        assert inline[1] == {"request": {"contents": [{"role": "user", "parts": [{"text": "Question 1"}]}]},
                             "metadata": {"key": "req-1"}}
        monkeypatch.setattr(batches, "INLINE_BYTES", 100)
        job = client.submit_batch(prompts(5))
        assert api.requests[-1].json["batch"]["inputConfig"]["fileName"].startswith("files/")
        run_to_end(api, job)
        assert [result.content for _, result in job.results()] == [f"You said: Question {i}" for i in range(5)]


def test_failed_lines_come_back_as_typed_errors_in_place(client, api, provider) -> None:
    service = openai_service(api) if provider == "openai" else gemini_service(api)
    service.fail_batch_lines = {"req-1": 500, "req-3": 429}
    job = client.submit_batch(prompts(5))
    final, _ = run_to_end(api, job)
    assert final.request_counts.failed == 2 and final.request_counts.completed == 3
    results = dict(job.results())
    assert isinstance(results["req-1"], llmplug.InternalServerError) and results["req-1"].status_code >= 500
    assert isinstance(results["req-3"], llmplug.RateLimitError)
    assert results["req-4"].content == "You said: Question 4"


def test_an_expired_job_keeps_what_was_done(client, api, provider) -> None:
    api.batch_settings.run_seconds = 400_000  # slower than the completion window
    job = client.submit_batch(prompts(10))
    final, _ = run_to_end(api, job, max_interval=7200)
    assert final.status == "expired"
    results = list(job.results())
    assert [custom_id for custom_id, _ in results] == [f"req-{i}" for i in range(10)]
    errors = [r for _, r in results if isinstance(r, Exception)]
    assert errors and all(isinstance(e, BatchRequestError) for e in errors)
    if provider == "openai":  # OpenAI keeps the lines done before expiry, the rest are batch_expired
        assert any(isinstance(r, ChatCompletion) for _, r in results)
        assert {e.code for e in errors} == {"batch_expired"}
    else:  # Google keeps nothing of an expired job
        assert len(errors) == 10


def test_a_cancelled_job(client, api, provider) -> None:
    api.batch_settings.run_seconds = 10_000
    job = client.submit_batch(prompts(10))
    api.batch_clock.advance(3_000)
    cancelled = job.cancel()
    assert cancelled.status in ("cancelling", "cancelled")
    final, _ = run_to_end(api, job)
    assert final.status == "cancelled"
    results = list(job.results())
    assert len(results) == 10 and any(isinstance(r, BatchRequestError) for _, r in results)


def test_a_job_is_reattached_by_id(api, transport, provider) -> None:
    with clients(api, transport, provider) as first:
        job_id = first.submit_batch(prompts(20)).id
    with clients(api, transport, provider) as later:  # another process, in effect
        job = later.batch_job(job_id)
        assert job.id == job_id and job.operation == "chat.create"
        run_to_end(api, job)
        results = list(job.results())
    assert [custom_id for custom_id, _ in results] == [f"req-{i}" for i in range(20)]
    assert results[19][1].content == "You said: Question 19"


@pytest.mark.parametrize(
    "requests, message",
    [
        ([("a", {"messages": []}), ("b", {"messages": []}), ("a", {"messages": []})],
         r"line 3: custom_id 'a' was already used on line 1"),
        ([{"custom_id": "a", "url": "/v1/embeddings", "body": {"input": "x"}}], r"line 1: url '/v1/embeddings' is not this job's endpoint"),
        (['{"custom_id": "a", "body": {}}', "not json"], r"line 2 is not JSON"),
        ([("", {"messages": []})], r'line 1 needs "custom_id"'),
        ([], r"the batch has no requests"),
    ],
    ids=["duplicate", "endpoint", "not-json", "no-id", "empty"],
)
def test_bad_input_is_refused_before_anything_is_sent(client, api, requests, message) -> None:
    with pytest.raises(llmplug.ConfigurationError, match=message):
        client.submit_batch(requests)
    assert api.requests == []


def test_the_engines_limits_name_the_line(api, transport, monkeypatch) -> None:
    from llmplug.providers import openai_batch

    with clients(api, transport, "openai") as client:
        monkeypatch.setattr(openai_batch, "MAX_LINES", 4)
        with pytest.raises(llmplug.ConfigurationError, match=r"line 5: an OpenAI batch takes at most 4 requests"):
            client.submit_batch(prompts(6))
        monkeypatch.setattr(openai_batch, "MAX_LINES", 50_000)
        monkeypatch.setattr(openai_batch, "MAX_BYTES", 300)  # each line is about 140 bytes
        with pytest.raises(llmplug.ConfigurationError, match=r"line 3 \('req-2'\) takes the input file past"):
            client.submit_batch(prompts(5))
    with clients(api, transport, "gemini") as gemini:
        mixed = [*prompts(2), ("other", {"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "x"}]})]
        with pytest.raises(llmplug.ConfigurationError, match=r"line 3 \('other'\) asks for another model"):
            gemini.submit_batch(mixed)
    assert api.requests == []


def test_results_wait_for_the_end_and_wait_can_time_out(client, api) -> None:
    job = client.submit_batch(prompts(2))
    with pytest.raises(llmplug.ConfigurationError, match="wait"):
        job.results()
    with pytest.raises(TimeoutError, match="still"):
        job.wait(poll_interval=1, timeout=1, sleep=lambda seconds: None)


def test_a_provider_without_a_batch_engine(api, transport) -> None:
    with llmplug.new("openai-compatible", base_url=api.base_url, transport=transport) as client:
        assert client.submit_batch([("a", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})]).id
    from llmplug.core.plugins import PluginManager

    pm = PluginManager(entry_points=False)

    class Nothing:
        @llmplug.hookimpl(tryfirst=True)
        def llmplug_batch_format(self, provider):
            return None

    pm.register(Nothing(), name="nothing")
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, plugins=pm) as client:
        job = client.submit_batch(prompts(1))  # the built-in still answers after a plugin passes
        assert job.id


def test_embeddings_run_in_an_openai_batch(api, transport) -> None:
    from llmplug.core.models import EmbeddingList

    with clients(api, transport, "openai") as client:
        job = client.submit_batch([(f"e{i}", {"input": f"text {i}"}) for i in range(5)], endpoint="/v1/embeddings")
        run_to_end(api, job)
        results = list(job.results())
        direct = client.embedding("text 3").body
    assert [custom_id for custom_id, _ in results] == [f"e{i}" for i in range(5)]
    assert all(isinstance(result, EmbeddingList) for _, result in results)
    assert results[3][1].vectors == direct.vectors  # the same floats as the synchronous call


def test_lines_an_engine_would_refuse_are_refused_first(client, api) -> None:
    mixed = [*prompts(2), ("c", {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "x"}]})]
    with pytest.raises(llmplug.ConfigurationError, match=r"line 3 \('c'\) asks for"):
        client.submit_batch(mixed)
    with pytest.raises(llmplug.ConfigurationError, match=r"line 2 \('b'\) asks for a stream"):
        client.submit_batch([("a", {"messages": []}), ("b", {"messages": [], "stream": True})])
    with pytest.raises(llmplug.ConfigurationError, match=r"line 1 \('a'\): response_format is a type"):
        client.submit_batch([("a", {"messages": [], "response_format": dict})])
    assert api.requests == []


def test_results_can_be_read_twice_and_closed(client, api) -> None:
    job = client.submit_batch(prompts(3))
    run_to_end(api, job)
    results = job.results()
    assert list(results) == list(results)  # read again from the same downloads
    results.close()
    with pytest.raises(llmplug.ConfigurationError, match="closed"):
        list(results)
    assert [cid for cid, _ in job.results()] == ["req-0", "req-1", "req-2"]


def test_a_cancel_reports_the_state_after_it(client, api) -> None:
    api.batch_settings.run_seconds = 10_000
    job = client.submit_batch(prompts(4))
    api.batch_clock.advance(100)
    after = job.cancel()
    assert after.status in ("cancelling", "cancelled") and after.request_counts is not None
    assert after.request_counts.total == 4
