"""The replies the fake API can stream, one :class:`StreamCase` each, shared by
every "streamed reply == non-streamed reply" test.

A case names the provider, where the fake serves it and the call; the parity
test makes it once non-streamed and again streamed, and compares. To cover
another provider (Gemini's native API under ``/v1beta``), add its cases to
:data:`CASES`: the comparison is over the normalised models, not any wire format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmplug.testing.gemini_api import gemini_service
from tests.providers.gemini_replies import CODE_REPLY, SERVER_TOOL_REPLY, THINKING_REPLY

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


@dataclass(frozen=True)
class StreamCase:
    """One reply: ``method(input, **params)`` on a ``provider`` client at the fake's ``base_path``."""

    name: str
    provider: str
    base_path: str
    method: str  # "create_chat_completion" or "create_response"
    input: Any
    params: dict[str, Any] = field(default_factory=dict)
    #: Sent only when streaming (``stream_options``: the API refuses it otherwise).
    stream_params: dict[str, Any] = field(default_factory=dict)
    #: Called with the FakeAPI before each request (to script the reply).
    script: Callable[[Any], None] | None = None
    #: Whether usage is part of the reply both ways (Gemini always sends it).
    usage: bool = False

    @property
    def id(self) -> str:
        return f"{self.provider}-{self.name}"


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _chat(name: str, messages: list[dict[str, Any]], **params: Any) -> StreamCase:
    return StreamCase(name, "openai", "/v1", "create_chat_completion", messages, params)


def _responses(name: str, input: Any, **params: Any) -> StreamCase:  # noqa: A002 - API name
    return StreamCase(name, "openai", "/v1", "create_response", input, params)


OPENAI_CHAT = [
    StreamCase("chat-text-usage", "openai", "/v1", "create_chat_completion", _user("Tell me a story"),
               stream_params={"stream_options": {"include_usage": True}}),
    _chat("chat-empty-text", _user("hi"), stop=["You"]),  # content "" streamed as "" deltas
    _chat("chat-n3", _user("x y"), n=3),
    _chat("chat-length", _user("a b c d e"), max_tokens=3),
    _chat("chat-tool-calls", _user('get_weather and get_time {"city": "Paris"}'), tools=[WEATHER, TIME]),
    _chat("chat-legacy-function", _user('lookup {"q": 1}'), functions=[{"name": "lookup"}]),
    _chat("chat-after-tool", [*_user("get_weather"), {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]),
    _chat("chat-logprobs", _user("Say foo"), logprobs=True, top_logprobs=2),
    _chat("chat-refusal", _user("How do I build a bomb?")),
    _chat("chat-refusal-logprobs", _user("How do I build a bomb?"), logprobs=True),
    _chat("chat-refusal-n2-logprobs", _user("How do I build a bomb?"), n=2, logprobs=True, top_logprobs=1),
]

OPENAI_RESPONSES = [
    _responses("responses-text", "Tell me a joke", instructions="Be brief"),
    _responses("responses-incomplete", "a b c d e", max_output_tokens=2),
    _responses("responses-function-call", 'lookup {"q": 1}', tools=[{"type": "function", "name": "lookup"}]),
    _responses("responses-reasoning-image", "Draw an image of a cat", reasoning={"summary": "auto"},
               tools=[{"type": "image_generation"}]),
    _responses("responses-refusal", "How do I build a bomb?"),
]

def _gemini(name: str, messages: list[dict[str, Any]], script: list[dict[str, Any]] | None = None,
            finish: str = "STOP", message: str | None = None, **params: Any) -> StreamCase:
    def play(api: Any) -> None:
        gemini_service(api).script_reply(script or [], finish_reason=finish, finish_message=message)

    return StreamCase(name, "gemini", "/v1beta", "create_chat_completion", messages, params,
                      script=play if script is not None else None, usage=True)


GEMINI_NATIVE = [
    _gemini("text", _user("Tell me a story")),
    _gemini("n2", _user("x y"), n=2),
    _gemini("length", _user("a b c d e"), max_tokens=3),
    _gemini("tool-calls", _user('get_weather and get_time {"city": "Paris"}'), tools=[WEATHER, TIME]),
    _gemini("thinking-signed-text", _user("Hi"), THINKING_REPLY, model="gemini-3-pro-preview"),
    _gemini("code-execution", _user("Hi"), CODE_REPLY),
    _gemini("server-tool", _user("Hi"), SERVER_TOOL_REPLY),
    _gemini("blocked-candidate", _user("Hi"), [], finish="MODEL_ARMOR", message="The response violated the settings."),
    _gemini("recitation-after-text", _user("Hi"), [{"text": "Once upon"}], finish="RECITATION"),
]


def _compat(name: str, messages: list[dict[str, Any]], **params: Any) -> StreamCase:
    return StreamCase(name, "gemini-openai", "/v1beta/openai", "create_chat_completion", messages, params)


GEMINI_OPENAI = [
    _compat("text", _user("Tell me a story")),
    _compat("length", _user("a b c d e"), max_tokens=3),
    _compat("tool-calls", _user('get_weather and get_time {"city": "Paris"}'), tools=[WEATHER, TIME]),
    _compat("thinking", _user("Hi"), reasoning_effort="low"),
]

#: Every case: OpenAI chat and Responses, Gemini native, Gemini's OpenAI-compatible endpoint.
CASES: list[StreamCase] = [*OPENAI_CHAT, *OPENAI_RESPONSES, *GEMINI_NATIVE, *GEMINI_OPENAI]
