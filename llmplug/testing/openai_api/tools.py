"""The fake's tool-calling rule, shared by Chat Completions and the Responses API.

A function tool whose name appears as a whole word in the user's last message
is called, with the first JSON object literal of that message as its
arguments; a ``strict`` tool called with none gets an instance of its
parameters' schema (a strict model always sends arguments that fit); ``tool_choice`` (``"none"``, ``"required"``, a forced function) and
``parallel_tool_calls`` are honoured. Tools are read in either shape: chat
style (``function.name``) or Responses style (``name``).
"""

from __future__ import annotations

import json
from typing import Any

from ..schemas import schema_instance
from .common import _first_json_object, _mentions


def _function_names(tools: Any) -> list[str]:
    """Names of function tools, chat style (``function.name``) or Responses style (``name``)."""
    names = []
    for tool in tools or []:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        fn = tool.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool.get("name")
        if isinstance(name, str) and name:
            names.append(name)
    return names


def _called(names: list[str], text: str, choice: Any, parallel: bool) -> list[str]:
    """Which functions to call given the user's text and ``tool_choice``."""
    if not names or choice == "none":
        return []
    if isinstance(choice, dict):
        fn = choice.get("function")
        forced = fn.get("name") if isinstance(fn, dict) else choice.get("name")
        if isinstance(forced, str):
            return [forced]
    called = [n for n in names if _mentions(n, text)]
    if not called and choice == "required":
        called = names[:1]
    return called if parallel else called[:1]


def _tool_arguments(tools: Any, names: list[str], text: str) -> dict[str, str]:
    """The JSON arguments of each called function: the first JSON object of
    ``text``, or for a ``strict`` tool when there is none, an instance of its schema."""
    found = _first_json_object(text)
    out = {}
    for name in names:
        params = _strict_parameters(tools, name) if found == "{}" else None
        out[name] = found if params is None else json.dumps(schema_instance(params, text), ensure_ascii=False)
    return out


def _strict_parameters(tools: Any, name: str) -> Any:
    for tool in tools or []:
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        if fn.get("name") == name and fn.get("strict") is True and isinstance(fn.get("parameters"), dict):
            return fn["parameters"]
    return None
