"""Structured outputs of the fake OpenAI API: response formats and strict function schemas.

Chat Completions' ``response_format`` (:func:`chat_output_format`) and the
Responses API's ``text.format`` (:func:`responses_output_format`) are checked
as OpenAI checks them and give an :class:`OutputFormat`, which turns the reply
text into the answer: the text itself (``text``), ``{"text": reply}``
(``json_object``, which needs the word "json" in the prompt), or the JSON of
:func:`~llmplug.testing.schemas.schema_instance` (``json_schema``). With
``strict: true``, the schema, and a function tool's parameters
(:func:`check_strict_tools`), must follow strict mode's rules
(:func:`~llmplug.testing.schemas.check_strict`), each broken rule a 400 in
OpenAI's words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..schemas import StrictSchemaError, check_strict, schema_instance
from ..server import APIError
from .validation import _invalid_type, _invalid_value, _missing

_FORMAT_TYPES = ["text", "json_object", "json_schema"]

_NAME = re.compile(r"[a-zA-Z0-9_-]+")

_NEEDS_JSON = "must contain the word 'json' in some form, to use '{param}' of type 'json_object'."


@dataclass(frozen=True)
class OutputFormat:
    """What the answer looks like: ``kind`` is ``text``, ``json_object`` or ``json_schema``."""

    kind: str = "text"
    schema: Any = None

    def render(self, text: str) -> str:
        """The answer whose strings are ``text``: JSON with ``", "`` and ``": "``
        separators, so word-based limits cut it and streams send it in pieces."""
        if self.kind == "text":
            return text
        value = schema_instance(self.schema, text) if self.schema is not None else {"text": text}
        return json.dumps(value, ensure_ascii=False)


def _invalid(message: str, param: str | None, code: str | None = None) -> APIError:
    return APIError(400, message, type="invalid_request_error", param=param, code=code)


def _check_name(name: Any, param: str) -> str:
    """A response format's ``name``: ``[a-zA-Z0-9_-]``, 1 to 64 characters."""
    if name is None:
        raise _missing(param)
    if not isinstance(name, str):
        raise _invalid_type(param, "a string", name)
    if not name:
        raise _invalid(f"Invalid '{param}': string too short. Expected a string with minimum length 1, but got an "
                       "empty string instead.", param, "empty_string")
    if len(name) > 64:
        raise _invalid(f"Invalid '{param}': string too long. Expected a string with maximum length 64, but got a "
                       f"string with length {len(name)} instead.", param, "string_above_max_length")
    if not _NAME.fullmatch(name):
        raise _invalid(f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
                       "pattern '^[a-zA-Z0-9_-]+$'.", param, "invalid_value")
    return name


def _strict_flag(value: Any, param: str) -> bool:
    if value is not None and not isinstance(value, bool):
        raise _invalid_type(param, "a boolean", value)
    return value is True


def _check_schema(schema: Any, strict: bool, subject: str, param: str, code: str | None) -> None:
    if strict:
        try:
            check_strict(schema)
        except StrictSchemaError as exc:
            raise _invalid(exc.message(subject), param, code) from None


def _format(fmt: Any, param: str, prompt: str, *, lenient: bool, nested: bool) -> OutputFormat:
    """Check a response format at ``param``; ``nested`` when its name and schema
    sit in a ``json_schema`` object (Chat Completions), not beside ``type``."""
    if fmt is None:
        return OutputFormat()
    if not isinstance(fmt, dict):
        raise _invalid_type(param, "an object", fmt)
    kind = fmt.get("type")
    if kind is None:
        raise _missing(f"{param}.type")
    if kind not in _FORMAT_TYPES:
        raise _invalid_value(f"{param}.type", kind, _FORMAT_TYPES)
    if kind == "text":
        return OutputFormat()
    if kind == "json_object":
        if not lenient and "json" not in prompt.lower():
            where, name = ("messages", "'messages'") if nested else ("input", "Response input messages")
            raise _invalid(f"{name} {_NEEDS_JSON.format(param=param)}", where)
        return OutputFormat("json_object")
    spec, where = fmt, param
    if nested:
        where = f"{param}.json_schema"
        spec = fmt.get("json_schema")
        if spec is None:
            raise _missing(where)
        if not isinstance(spec, dict):
            raise _invalid_type(where, "an object", spec)
    schema = spec.get("schema")
    if schema is None and not nested:
        raise _missing(f"{where}.schema")
    if schema is not None and not isinstance(schema, dict):
        raise _invalid_type(f"{where}.schema", "an object", schema)
    if lenient:
        return OutputFormat("json_schema", schema or None)
    name = _check_name(spec.get("name"), f"{where}.name")
    strict = _strict_flag(spec.get("strict"), f"{where}.strict")
    if nested:
        _check_schema(schema, strict, f"response_format '{name}'", param, None)
    else:
        _check_schema(schema, strict, f"response_format '{name}'", f"{where}.schema", "invalid_json_schema")
    return OutputFormat("json_schema", schema or None)


def chat_output_format(body: dict[str, Any], prompt: str, *, lenient: bool = False) -> OutputFormat:
    """The checked ``response_format`` of a chat request whose messages' text is
    ``prompt``; ``lenient`` (Gemini's endpoint) skips the name, strict and "json" checks."""
    return _format(body.get("response_format"), "response_format", prompt, lenient=lenient, nested=True)


def responses_output_format(body: dict[str, Any], prompt: str) -> OutputFormat:
    """The checked ``text.format`` of a Responses API request whose input's text is ``prompt``."""
    text = body.get("text")
    if text is None:
        return OutputFormat()
    if not isinstance(text, dict):
        raise _invalid_type("text", "an object", text)
    return _format(text.get("format"), "text.format", prompt, lenient=False, nested=False)


def check_strict_tools(tools: Any) -> None:
    """Each function tool with ``strict: true`` (chat style ``function.strict`` or
    Responses style ``strict``) must have strict-mode parameters."""
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        chat_style = isinstance(tool.get("function"), dict)
        fn = tool["function"] if chat_style else tool
        where = f"tools[{i}].function" if chat_style else f"tools[{i}]"
        if not _strict_flag(fn.get("strict"), f"{where}.strict") or fn.get("parameters") is None:
            continue
        _check_schema(fn["parameters"], True, f"function '{fn.get('name')}'", f"{where}.parameters",
                      "invalid_function_parameters")
