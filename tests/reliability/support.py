"""Shared bits of the reliability suite: timeouts, payloads, and the secret check."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

import llmplug
from tests.conftest import TEST_KEY

#: Short limits so a stalling server costs a fraction of a second per attempt.
FAST = llmplug.Timeout(connect=1.0, read=0.3, total=3.0)
USER = [{"role": "user", "content": "hi"}]
BACKOFF = [0.5, 1.0]  # the waits before retries 1 and 2, with jitter pinned to 0

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-test",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
}
CHAT_BYTES = json.dumps(CHAT).encode()


def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    """One chat.completion.chunk carrying ``text``."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }


HELLO = [chunk("Hel"), chunk("lo")]  # a stream cut before its finish_reason and [DONE]


def response_event(kind: str, **fields: Any) -> bytes:
    """One Responses API SSE event."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


def texts(of: Any) -> list[str]:
    """Every string an error shows: str, repr, args, message, and the same for its causes."""
    shown: list[str] = []
    seen: set[int] = set()
    error: BaseException | None = of
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        shown += [str(error), repr(error), *map(repr, error.args), str(getattr(error, "message", ""))]
        shown += [repr(getattr(error, "request", None))]
        error = error.__cause__ or error.__context__
    shown.append("".join(traceback.format_exception(of)))
    return shown


def assert_no_secret(error: BaseException) -> None:
    """No string ``error`` (or anything it chains to) shows contains the test key."""
    leaks = [text for text in texts(error) if TEST_KEY in text]
    assert not leaks, f"API key leaked: {leaks[0][:300]}"


def fails(expected: type[BaseException], call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``call``; it must raise exactly ``expected`` (not a subclass), with no secret shown."""
    try:
        call(*args, **kwargs)
    except BaseException as error:  # noqa: BLE001 - checked right below
        assert type(error) is expected, f"expected {expected.__name__}, got {type(error).__name__}: {error}"
        assert_no_secret(error)
        return error
    raise AssertionError(f"expected {expected.__name__}, nothing was raised")
