"""ChatSession: a conversation kept locally and sent whole to Chat Completions."""

from __future__ import annotations

import copy
import functools
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Union

from llmplug.core.base_client import split_call_args
from llmplug.core.errors import APIResponseValidationError, ConfigurationError
from llmplug.core.models import ChatCompletion, Choice, Model, Usage
from llmplug.core.streaming import text_chunk_relay

from .base import Callback, InvalidMessageError, Session, check_result, unwrap_model
from llmplug.core.plans import Plan, ToolJob

#: The roles a chat message may have.
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
#: Roles whose message must have content.
_NEEDS_CONTENT = ("system", "developer", "user", "tool")

Message = dict[str, Any]
Reply = Union[str, None, Message]


def check_message(message: Any, label: str) -> Message:
    """``message`` as a plain dict, or :class:`InvalidMessageError` saying what is wrong.

    A model (``completion.choices[0].message``) is taken as a copy of its ``.raw``.
    """
    given = message
    message = unwrap_model(message)
    if not isinstance(message, Mapping):
        what = type(given).__name__ + (f" (whose JSON is a {type(message).__name__})" if given is not message else "")
        raise InvalidMessageError(f"{label} must be a dict such as {{'role': 'user', 'content': 'Hi'}}, not {what}")
    role = message.get("role")
    if role not in ROLES:
        found = "has no 'role'" if role is None else f"has role {role!r}"
        raise InvalidMessageError(f"{label} {found}; the role must be one of: {', '.join(ROLES)}")
    where = f"{label} (role {role!r})"
    content = message.get("content")
    if content is None:
        if role in _NEEDS_CONTENT:
            raise InvalidMessageError(f"{where} needs 'content': a string or a list of content parts")
    elif isinstance(content, list):
        for i, part in enumerate(content):
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise InvalidMessageError(
                    f"{where}: content part {i} must be a dict with a 'type', such as "
                    f"{{'type': 'text', 'text': '...'}}, not {part!r:.80}"
                )
    elif not isinstance(content, str):
        raise InvalidMessageError(
            f"{where}: 'content' must be a string, None or a list of content parts, not {type(content).__name__}"
        )
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise InvalidMessageError(f"{where} needs 'tool_call_id': the id of the tool call it answers")
    if role == "function" and not isinstance(message.get("name"), str):
        raise InvalidMessageError(f"{where} needs 'name': the name of the function it answers")
    if "name" in message and not isinstance(message["name"], str):
        raise InvalidMessageError(f"{where}: 'name' must be a string, not {type(message['name']).__name__}")
    calls = message.get("tool_calls")
    if calls is not None and not (isinstance(calls, list) and all(isinstance(c, Mapping) for c in calls)):
        raise InvalidMessageError(f"{where}: 'tool_calls' must be a list of tool call dicts")
    return dict(message)


class ChatSession(Session):
    """A chat history sent whole with every request; the reply is appended.

    ``ChatSession(client, messages=[...], model=..., temperature=...,
    response_format=..., tools=..., tool_choice=..., parallel_tool_calls=...,
    functions=..., function_call=..., **other_api_params)``. The named options
    are attributes (change them between calls); other parameters live in
    ``params``. Each is forwarded with every request; ``None`` is not sent.
    """

    kind: ClassVar[str] = "chat"
    options: ClassVar[tuple[str, ...]] = (
        "model",
        "temperature",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
    )
    client_method: ClassVar[str] = "create_chat_completion"

    model: str | None
    temperature: float | None
    response_format: Any
    tools: list[dict[str, Any]] | None
    tool_choice: Any
    parallel_tool_calls: bool | None
    functions: list[dict[str, Any]] | None
    function_call: Any

    def __init__(self, client: Any, **opts: Any) -> None:
        messages = opts.pop("messages", None)
        super().__init__(client, opts)
        #: The history: plain JSON-able message dicts.
        self.messages: list[Message] = []
        #: The last completion received, its usage and choice 0's finish reason.
        self.last_completion: ChatCompletion | None = None
        self.last_usage: Usage | None = None
        self.last_finish_reason: str | None = None
        if messages is not None:
            if isinstance(messages, (str, Mapping, Model)) or not isinstance(messages, Iterable):
                raise InvalidMessageError("messages must be a list of message dicts")
            self.messages.extend(check_message(m, f"messages[{i}]") for i, m in enumerate(messages))

    # ------------------------------------------------------------ history

    def append_message(self, *messages: Any) -> None:
        """Check each message (a dict, or a model such as ``completion.choices[0].message``,
        kept as a copy of its JSON) and append them all (none if one is invalid)."""
        checked = [
            check_message(m, "the message" if len(messages) == 1 else f"message {i + 1} of {len(messages)}")
            for i, m in enumerate(messages)
        ]
        self.messages.extend(checked)

    def last_message(self) -> Message | None:
        """The last message of the history, or ``None`` when it is empty."""
        return self.messages[-1] if self.messages else None

    # ------------------------------------------------------------ requests

    def send(self, message: str | Mapping[str, Any] | Model, stream_callback: Any = None, **overrides: Any) -> Reply:
        """Append ``message`` (a string is a user message) and generate the reply.

        Returns the reply text, or the whole assistant message when it carries
        tool calls or a function call. In the ``stream_callback`` slot a dict
        is taken as options, as in Lua. If the request fails the history is
        left as it was.
        """
        return self._drive(self._send(message, stream_callback, overrides))

    def _send(self, message: Any, stream_callback: Any, overrides: dict[str, Any]) -> Plan:
        if isinstance(message, str):
            message = {"role": "user", "content": message}
        checked = check_message(message, "the message")
        size = len(self.messages)
        self.messages.append(checked)
        try:
            return (yield from self._generate(True, stream_callback, overrides))
        except BaseException:
            del self.messages[size:]
            raise

    def generate_response(self, append_response: bool = True, stream_callback: Any = None, **overrides: Any) -> Reply:
        """Request the next reply to the history; append it unless told not to.

        ``stream_callback(chunk, raw_event)`` streams it: ``chunk`` is a
        :class:`~llmplug.core.models.TextChunk` (``content``, ``index``,
        ``tool_calls``, ``refusal``; ``str(chunk)`` is its text) and ``raw_event``
        the chunk's decoded JSON. A refused reply is appended as it came
        (``content`` ``None``, ``refusal`` the text) and ``None`` is returned.
        A streamed request asks for usage
        (``stream_options={"include_usage": True}``) where the provider takes it,
        so ``last_usage`` is filled; your own ``stream_options`` win. Per-call
        ``overrides`` win over the session's options.
        """
        return self._drive(self._generate(append_response, stream_callback, overrides))

    def _generate(self, append_response: bool, stream_callback: Any, overrides: dict[str, Any]) -> Plan:
        if not self.messages:
            raise ConfigurationError("the session has no messages: send() or append_message() first")
        overrides, callback = split_call_args(stream_callback, None, overrides)
        params, callback = self.request_params(overrides, callback)
        if callback is not None and self.client.provider.options.get("stream_include_usage"):
            params.setdefault("stream_options", {"include_usage": True})  # the user's own win
        relay = text_chunk_relay(callback) if callback is not None else None
        messages = self.messages
        result = yield lambda: self.client.create_chat_completion(messages, params, relay)
        completion = check_result(result, ChatCompletion, self.client)
        choice = _first_choice(completion, result.status)
        reply = _assistant_message(choice)
        self.last_completion = completion
        self.last_usage = completion.usage
        self.last_finish_reason = choice.finish_reason
        if append_response:
            self.messages.append(reply)
        if "tool_calls" in reply or "function_call" in reply:
            return reply
        fmt = params.get("response_format")
        return choice.message.parsed if fmt is not None and not isinstance(fmt, Mapping) else reply["content"]

    # ------------------------------------------------------------ beyond Lua: the tool loop

    def run(
        self,
        message: str | Mapping[str, Any] | None,
        tools: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]] = (),
        *,
        max_turns: int = 10,
        stream_callback: Callback | None = None,
        **overrides: Any,
    ) -> Reply:
        """Send ``message`` and answer the model's tool calls with ``tools``
        (``{name: function}``, functions named by ``__name__``, or
        :func:`llmplug.function_tool` objects) until it replies in text or
        ``max_turns`` requests were made.

        Arguments are parsed from JSON and structured into the types of the
        function's parameters (attrs classes, dataclasses, pydantic models,
        Enums, lists...), then passed as keywords; what a function returns is
        sent back (a string as is, anything else as JSON). Bad JSON, arguments
        that do not fit (the message names the field), an exception or an
        unknown tool name is reported to the model as the tool result, and the
        loop goes on. When the session declares no ``tools``/``functions``,
        declarations are built from the functions' signatures and sent with
        each request of the run (strict where the provider has a strict mode). Returns what the last :meth:`send` returned
        (the assistant message if ``max_turns`` ran out with calls pending).
        ``message=None`` continues from the history (answering its pending
        tool calls first, if it ends with them). If a request fails the
        session is left as it was before ``run``.
        """
        return self._drive(self._run(message, tools, max_turns, stream_callback, overrides))

    def _run(
        self, message: Any, tools: Any, max_turns: int, stream_callback: Callback | None, overrides: dict[str, Any]
    ) -> Plan:
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
            raise ConfigurationError(f"max_turns must be a whole number >= 1, not {max_turns!r}")
        table = _tool_table(tools)
        if not (self.tools or self.functions or "tools" in overrides or "functions" in overrides) and table:
            overrides["tools"] = list(table.values())  # the client declares each for its provider
        saved = (list(self.messages), self.last_completion, self.last_usage, self.last_finish_reason)
        try:
            pending = self.last_message()
            if message is None and pending and pending.get("role") == "assistant" and _calls(pending):
                reply, turns = pending, 0  # answer the calls already in the history first
            elif message is None:
                reply, turns = (yield from self._generate(True, stream_callback, dict(overrides))), 1
            else:
                reply, turns = (yield from self._send(message, stream_callback, dict(overrides))), 1
            while isinstance(reply, dict) and turns < max_turns:
                outputs = yield _tool_jobs(reply, table)
                self.append_message(*_tool_messages(reply, outputs))
                reply = yield from self._generate(True, stream_callback, dict(overrides))
                turns += 1
        except BaseException:
            self.messages[:], self.last_completion, self.last_usage, self.last_finish_reason = saved
            raise
        return reply

    # ------------------------------------------------------------ save and resume

    def state(self) -> dict[str, Any]:
        return {"messages": self.messages}

    @classmethod
    def _resume(cls, client: Any, options: dict[str, Any], data: dict[str, Any]) -> ChatSession:
        return cls(client, messages=data.get("messages") or [], **options)

    def _repr_state(self) -> str:
        return f" messages={len(self.messages)}"


def _calls(message: Mapping[str, Any]) -> bool:
    return bool(message.get("tool_calls") or message.get("function_call"))


def _first_choice(completion: ChatCompletion, status: int) -> Choice:
    for choice in completion.choices:
        if choice.index == 0:
            return choice
    if completion.choices:
        return completion.choices[0]
    raise APIResponseValidationError(
        "the chat completion has no choices", body=completion.raw, status_code=status
    )


def _assistant_message(choice: Choice) -> Message:
    """The reply as a history message: role, content (None stays None), the
    refusal when there is one, and the tool calls or function call and the
    provider's ``extra_content`` (Gemini's parts and signatures...) exactly as
    the provider sent them."""
    raw = choice.message.raw if isinstance(choice.message.raw, dict) else {}
    message: Message = {"role": raw.get("role") or "assistant", "content": copy.deepcopy(raw.get("content"))}
    if isinstance(raw.get("refusal"), str):
        message["refusal"] = raw["refusal"]
    for key in ("tool_calls", "function_call", "extra_content"):
        if raw.get(key):
            message[key] = copy.deepcopy(raw[key])
    return message


# ---------------------------------------------------------------- tools


def _tool_table(tools: Any) -> dict[str, Any]:
    """``{name: FunctionTool}`` from a dict of functions, or functions and
    :class:`~llmplug.FunctionTool` objects named by themselves."""
    from llmplug.core.structured import FunctionTool  # loaded for a tool loop only

    if isinstance(tools, Mapping):
        items = list(tools.items())
    else:
        items = []
        for fn in tools:
            name = getattr(fn, "name", None) if isinstance(fn, FunctionTool) else getattr(fn, "__name__", None)
            if not callable(fn) or not name or name == "<lambda>":
                raise ConfigurationError(f"run(): name each tool with a dict {{name: function}}; cannot name {fn!r}")
            items.append((name, fn))
    table = {}
    for name, fn in items:
        if not isinstance(name, str) or not callable(fn):
            raise ConfigurationError(f"run(): tools must map names to functions; got {name!r}: {fn!r}")
        tool = fn if isinstance(fn, FunctionTool) and fn.name == name else None
        table[name] = tool or FunctionTool(fn.fn if isinstance(fn, FunctionTool) else fn, name=name)
    return table


def _calls_of(reply: Message) -> list[tuple[str, Any]]:
    """``(name, arguments)`` of each tool call of ``reply``, the legacy function call last."""
    calls = [((call.get("function") or {}).get("name"), (call.get("function") or {}).get("arguments"))
             for call in reply.get("tool_calls") or []]
    legacy = reply.get("function_call")
    if legacy:
        calls.append((legacy.get("name") or "", legacy.get("arguments")))
    return calls


def _tool_jobs(reply: Message, tools: Mapping[str, Any]) -> list[ToolJob]:
    """One job per tool call of ``reply`` (see :mod:`llmplug.sessions.plans`)."""
    return [
        ToolJob(str(name), functools.partial(run_tool, tools, name, arguments),
                isinstance(name, str) and name in tools and tools[name].is_coroutine)
        for name, arguments in _calls_of(reply)
    ]


def _tool_messages(reply: Message, outputs: list[str]) -> list[Message]:
    """One ``tool`` message per tool call (a ``function`` message for a legacy call), with its output."""
    calls = reply.get("tool_calls") or []
    messages: list[Message] = [
        {"role": "tool", "tool_call_id": call.get("id") or "", "content": output} for call, output in zip(calls, outputs)
    ]
    if reply.get("function_call"):
        messages.append({"role": "function", "name": reply["function_call"].get("name") or "", "content": outputs[-1]})
    return messages


def run_tool(tools: Mapping[str, Any], name: Any, arguments: Any) -> Any:
    """Call tool ``name`` with JSON ``arguments``, structured into its parameters'
    types; the result, or the error, as text (an awaitable of it for a coroutine
    function)."""
    tool = tools.get(name) if isinstance(name, str) else None
    if tool is None:
        available = ", ".join(sorted(tools)) or "(none)"
        return f"Error: unknown tool {name!r}; available tools: {available}"
    if not hasattr(tool, "parse_arguments"):  # a plain function: made a FunctionTool
        from llmplug.core.structured import FunctionTool

        tool = FunctionTool(tool, name=name)
    try:
        kwargs = tool.parse_arguments(arguments)
    except ValueError as exc:  # reported to the model, which may call again
        return f"Error: invalid arguments for {name!r}: {exc}"
    try:
        result = tool.fn(**kwargs)
    except Exception as exc:  # reported to the model, which may retry
        return _tool_error(exc)
    return _awaited_tool_text(result) if inspect.isawaitable(result) else _tool_text(result)


async def _awaited_tool_text(pending: Any) -> str:
    try:
        return _tool_text(await pending)
    except Exception as exc:
        return _tool_error(exc)


def _tool_error(exc: Exception) -> str:
    return f"Error: {type(exc).__name__}: {exc}"


def _tool_text(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, default=str)


def tool_declaration(name: str, fn: Callable[..., Any]) -> dict[str, Any]:
    """A Chat Completions tool declaration for ``fn``: its docstring and a JSON
    schema of its parameters from their type hints (provider-neutral; a
    session's ``run()`` lets the provider make it strict)."""
    from llmplug.core.structured import FunctionTool

    return FunctionTool(fn, name=name).default_declaration()
