"""Typed outputs and typed tools, provider-neutral.

- :class:`OutputFormat`: the type a caller gave (``response_format=T``,
  ``text_format=T``), its JSON schema and name; providers turn it into their
  params (hook ``llmplug_structured_output``) and it parses the reply.
- :class:`FunctionTool`: a Python function as a typed tool
  (``llmplug.function_tool(fn)``): its declaration's schema from the type
  hints (hook ``llmplug_function_tool``), and its arguments structured into
  those types before it is called.
- :class:`Expectation`: the checks of one call's result: ``.parsed`` set on
  every choice, or the typed error (refusal, length, content filter, invalid
  JSON, JSON that does not fit).
- :func:`prepare_call`: what the client does with a call's typed params, once,
  before dispatch; :class:`PartialTracker`: partial snapshots of a stream.

Loaded only when a type, a typed tool or a partial callback is passed.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from .operations import merge_params
from .errors import (
    ConfigurationError,
    ContentFilterFinishReasonError,
    InvalidJSONError,
    LengthFinishReasonError,
    RefusalError,
    StructuredValidationError,
)
from .models import ChatCompletion, Response
from .schema import cached_schema, function_schema, object_root, schema_name, strict_schema, type_label
from .typed import NotOfType, structure_as

__all__ = ["Expectation", "FunctionTool", "OutputFormat", "PartialTracker", "function_tool", "prepare_call"]

#: The key a root that is not an object is wrapped under, for servers whose root must be one.
ENVELOPE = "value"
_ON_REFUSAL = ("raise", "return")
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n?\s*```\s*$", re.S)


class OutputFormat:
    """What a reply must be: ``type``, its JSON ``schema`` (shared, do not change
    it), its ``name`` and ``description``. Made per call; the schemas are cached
    per type. ``envelope`` is set when :meth:`strict_schema` wrapped a root that
    is not an object (then the reply is ``{"value": ...}``)."""

    def __init__(self, tp: Any) -> None:
        self.type = tp
        self.schema: dict[str, Any] = cached_schema(tp)
        self.name = schema_name(tp)
        self.description: str | None = self.schema.get("description")
        self.envelope: str | None = None

    @property
    def is_object(self) -> bool:
        """Whether the schema's root is an object (strict mode needs one)."""
        return object_root(self.schema)

    @property
    def enum_values(self) -> list[Any] | None:
        """The values of a bare Enum or Literal type, else ``None``."""
        values = self.schema.get("enum")
        return list(values) if isinstance(values, list) and set(self.schema) <= {"type", "enum", "description"} else None

    def strict_schema(self, *, inline_refs: bool = False) -> dict[str, Any]:
        """The schema under strict-mode rules (:func:`~llmplug.core.schema.strict_schema`);
        a root that is not an object is wrapped under ``"value"`` and :attr:`envelope` set."""
        if not self.is_object:
            self.envelope = ENVELOPE
        return _strict_cached(self.type, inline_refs)

    def default_params(self, operation: str) -> dict[str, Any]:
        """The OpenAI-style params asking for this output, plain JSON schema (not strict)."""
        spec: dict[str, Any] = {"name": self.name, "schema": self.schema}
        if self.description:
            spec["description"] = self.description
        if operation == "responses.create":
            return {"text": {"format": {"type": "json_schema", **spec}}}
        return {"response_format": {"type": "json_schema", "json_schema": spec}}

    def parse(self, text: str) -> Any:
        """The reply ``text`` as an instance of :attr:`type`; :class:`ValueError`
        (not JSON) or :class:`~llmplug.core.typed.NotOfType` (does not fit)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            data = self._not_json(text, exc)
        if self.envelope is not None:
            if not isinstance(data, dict) or self.envelope not in data:
                raise NotOfType([f"expected an object with the key {self.envelope!r} @ $"])
            data = data[self.envelope]
        return structure_as(data, self.type)

    def _not_json(self, text: str, exc: ValueError) -> Any:
        """What a reply that is not JSON may still be: an enum value sent bare
        (Gemini's ``text/x.enum``), or JSON in a Markdown code fence."""
        values = self.enum_values
        if values is not None and text.strip() in values:
            return text.strip()
        fenced = _FENCE.match(text)
        if fenced:
            return json.loads(fenced.group(1))
        raise exc

    def __repr__(self) -> str:
        return f"<OutputFormat {type_label(self.type)}>"


@functools.lru_cache(maxsize=512)
def _strict_cached(tp: Any, inline_refs: bool) -> dict[str, Any]:
    schema = cached_schema(tp)
    name = type_label(tp)
    if not object_root(schema):
        defs = schema.get("$defs")
        inner = {key: value for key, value in schema.items() if key != "$defs"}
        schema = {"type": "object", "properties": {ENVELOPE: inner}, "required": [ENVELOPE]}
        if defs:
            schema["$defs"] = defs
    return strict_schema(schema, name=name, inline_refs=inline_refs)


# ---------------------------------------------------------------- checking results


class Expectation:
    """The checks of one call whose reply must be ``output``'s type."""

    def __init__(self, output: OutputFormat, on_refusal: str = "raise", provider: str | None = None) -> None:
        self.output = output
        self.on_refusal = on_refusal
        self.provider = provider

    def check(self, body: Any, **where: Any) -> Any:
        """Set ``.parsed`` (``.output_parsed``) on ``body``, a ChatCompletion or
        Response, or raise the typed error; ``where``: ``request=``, ``headers=``."""
        if isinstance(body, ChatCompletion):
            for choice in body.choices:
                message = choice.message
                text = message.content if isinstance(message.content, str) else ""
                calls = bool(message.tool_calls or message.function_call)
                message.parsed = self._parse(body, text, message.refusal, choice.finish_reason, calls, where)
        elif isinstance(body, Response):
            details = body.incomplete_details if isinstance(body.incomplete_details, Mapping) else {}
            reason = {"max_output_tokens": "length", "content_filter": "content_filter"}.get(details.get("reason"))
            body.output_parsed = self._parse(body, body.output_text, body.refusal, reason, bool(body.function_calls), where)
        return body

    def _parse(self, body: Any, text: str, refusal: str | None, finish: str | None, calls: bool, where: dict[str, Any]) -> Any:
        fields = {"raw_text": text, "completion": body, "response_format": self.output.type, "provider": self.provider, **where}
        label = type_label(self.output.type)
        if refusal:
            if self.on_refusal == "return":
                return None
            raise RefusalError(f"the model refused to answer as {label}: {refusal}", refusal=refusal, **fields)
        if finish == "length":
            raise LengthFinishReasonError(
                f"the reply was cut by the token limit after {len(text)} characters, so it is no whole {label}; "
                "raise max_tokens (the part that came is in .raw_text)", **fields)
        if finish == "content_filter":
            raise ContentFilterFinishReasonError(f"a content filter stopped the reply ({len(text)} characters came)", **fields)
        if calls and not text:
            return None  # the model called a tool instead: nothing to parse
        if not text.strip():
            raise InvalidJSONError(f"the reply is empty, not the JSON of {label}", errors=["no text @ $"], **fields)
        try:
            return self.output.parse(text)
        except NotOfType as exc:
            raise StructuredValidationError(
                f"the reply does not fit {label}: {'; '.join(exc.errors[:5])}", errors=exc.errors, **fields) from None
        except ValueError as exc:
            raise InvalidJSONError(f"the reply is not JSON ({exc}): {text[:200]!r}", errors=[f"{exc}"], **fields) from None


# ---------------------------------------------------------------- typed tools


class FunctionTool:
    """A Python function as a tool: ``name``, ``description`` (its docstring),
    ``schema`` (of its parameters, from their type hints), and
    :meth:`parse_arguments` / :meth:`invoke` that structure the model's JSON
    arguments into those types. ``strict``: ``None`` declares it strict where
    the schema allows it (every parameter typed, no free-form dict), ``True``
    insists, ``False`` never."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
                 strict: bool | None = None) -> None:
        if not callable(fn):
            raise ConfigurationError(f"function_tool() needs a function, not {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "") or ""
        if not self.name or self.name == "<lambda>":
            raise ConfigurationError(f"function_tool(): name the tool (name=...); cannot name {fn!r}")
        self.description = description if description is not None else inspect.getdoc(fn)
        self.strict = strict
        self.schema, self._hints = function_schema(fn, self.name)
        self.is_coroutine = inspect.iscoroutinefunction(fn)

    def strict_schema(self, *, inline_refs: bool = False) -> dict[str, Any] | None:
        """The parameters' schema under strict-mode rules; ``None`` when the tool is
        not declared strict (``strict=False``, or ``None`` and the schema cannot be)."""
        if self.strict is False:
            return None
        try:
            return strict_schema(self.schema, name=self.name, inline_refs=inline_refs)
        except ConfigurationError:
            if self.strict:
                raise
            return None

    def default_declaration(self, operation: str = "chat.create") -> dict[str, Any]:
        """The OpenAI-style ``tools`` entry (flat for ``"responses.create"``), plain schema."""
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.schema
        if operation == "responses.create":
            return {"type": "function", **function}
        return {"type": "function", "function": function}

    def parse_arguments(self, arguments: Any) -> dict[str, Any]:
        """The keyword arguments for the function from the model's JSON ``arguments``;
        :class:`ValueError` naming each field that does not fit."""
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError as exc:
                raise ValueError(f"the arguments are not valid JSON ({exc}): {arguments[:200]!r}") from None
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise ValueError(f"the arguments must be a JSON object, not {json.dumps(arguments)[:100]}")
        problems: list[str] = []
        kwargs: dict[str, Any] = {}
        for name, (hint, has_default) in self._hints.items():
            if name not in arguments or (arguments[name] is None and has_default and not _allows_none(hint)):
                if not has_default:
                    problems.append(f"missing required argument @ $.{name}")
                continue
            try:
                kwargs[name] = structure_as(arguments[name], hint)
            except NotOfType as exc:
                problems.extend(error.replace("@ $", f"@ $.{name}", 1) for error in exc.errors)
        unknown = [name for name in arguments if name not in self._hints]
        if unknown and not self._takes_any:
            problems.append(f"unexpected argument(s) {', '.join(map(repr, unknown))}; expected: {', '.join(self._hints)}")
        elif unknown:
            kwargs.update((name, arguments[name]) for name in unknown)
        if problems:
            raise ValueError("; ".join(problems))
        return kwargs

    @property
    def _takes_any(self) -> bool:
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(self.fn).parameters.values())

    def invoke(self, arguments: Any) -> Any:
        """Call the function with the model's JSON ``arguments``, structured."""
        return self.fn(**self.parse_arguments(arguments))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<FunctionTool {self.name}>"


def function_tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None,
                  strict: bool | None = None) -> Any:
    """``fn`` as a typed tool (:class:`FunctionTool`): pass it in ``tools=[...]``
    of a chat or Responses call, or to a session's ``run()``. Works as a
    decorator too, with or without options (``@function_tool(strict=True)``)."""
    if fn is None:
        return lambda f: FunctionTool(f, name=name, description=description, strict=strict)
    return FunctionTool(fn, name=name, description=description, strict=strict)


def _allows_none(hint: Any) -> bool:
    return hint is Any or hint is None or type(None) in typing.get_args(hint)


# ---------------------------------------------------------------- one call


def prepare_call(
    plugins: Any, provider: Any, operation: str, params: dict[str, Any], callback: Callable[[Any], Any] | None
) -> tuple[dict[str, Any], Callable[[Any], Any] | None, Expectation | None]:
    """A chat or Responses call's typed params made plain, before dispatch: the
    type becomes the provider's params (hook), typed tools their declarations
    (hook), a ``partial_callback`` a stream callback. Returns the params, the
    callback, and the :class:`Expectation` for the result (``None`` without a type)."""
    params = dict(params)
    partial = params.pop("partial_callback", None)
    on_refusal = params.pop("on_refusal", "raise")
    if on_refusal not in _ON_REFUSAL:
        raise ConfigurationError(f"on_refusal must be 'raise' or 'return', not {on_refusal!r}")
    fmt = params.pop("text_format", None)
    if fmt is not None and operation != "responses.create":
        raise ConfigurationError("text_format= is the Responses API's: pass response_format=T to this call")
    if fmt is None and params.get("response_format") is not None and not isinstance(params["response_format"], Mapping):
        fmt = params.pop("response_format")
    expectation = None
    if fmt is not None:
        if isinstance(fmt, Mapping):
            raise ConfigurationError("text_format= takes a type; a JSON schema dict goes in text={'format': {...}}")
        output = OutputFormat(fmt)
        params = merge_params(params, plugins.structured_output(provider, operation, output))
        expectation = Expectation(output, on_refusal, provider.name)
    tools = params.get("tools")
    if isinstance(tools, (list, tuple)) and any(not isinstance(tool, Mapping) for tool in tools):
        params["tools"] = [
            tool if isinstance(tool, Mapping) else plugins.function_tool(provider, operation, _as_tool(tool))
            for tool in tools
        ]
    if partial is not None:
        if not callable(partial):
            raise TypeError(f"partial_callback must be callable, not {type(partial).__name__}")
        if params.get("stream") is False:
            raise TypeError("partial_callback= streams the reply: drop stream=False")
        params["stream"] = True
        callback = partial_relay(callback, partial)
    return params, callback, expectation


def _as_tool(tool: Any) -> FunctionTool:
    if isinstance(tool, FunctionTool):
        return tool
    if callable(tool):
        return FunctionTool(tool)
    raise ConfigurationError(f"each tool must be a dict, a function or llmplug.function_tool(fn), not {type(tool).__name__}")


# ---------------------------------------------------------------- partial snapshots


class PartialTracker:
    """The partial JSON of one stream's text (choice 0, or the Responses output
    text): :meth:`update` with each event gives the new snapshot, or ``NOTHING``
    when the event changed nothing visible."""

    def __init__(self) -> None:
        from .partial_json import NOTHING, PartialJSON

        self.parser = PartialJSON()
        self.nothing = NOTHING

    def update(self, event: Any) -> Any:
        text = str(event)
        if text and self.parser.feed(text):
            return self.parser.snapshot()
        return self.nothing

    def end(self) -> Any:
        """The stream ended: the snapshot a pending number or literal completes, or ``NOTHING``."""
        return self.parser.snapshot() if self.parser.finish() else self.nothing


def partial_relay(callback: Callable[[Any], Any] | None, partial: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A stream callback that calls ``callback(event)`` and then, when the event
    changed the partial object, ``partial(snapshot)``; awaits their awaitables in order."""
    from .accumulators import in_order

    tracker = PartialTracker()
    nothing = tracker.nothing

    def relay(event: Any) -> Any:
        pending = []
        if callback is not None:
            pending.append(callback(event))
        snapshot = tracker.update(event)
        if snapshot is not nothing:
            pending.append(partial(snapshot))
        awaiting = [outcome for outcome in pending if outcome is not None and hasattr(outcome, "__await__")]
        return in_order(awaiting) if awaiting else None

    return relay
