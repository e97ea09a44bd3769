"""The fake's tool-calling rule, shared by Chat Completions and the Responses API.

A function tool whose name appears as a whole word in the user's last message
is called; ``tool_choice`` (``"none"``, ``"required"``, a forced function) and
``parallel_tool_calls`` are honoured. Tools are read in either shape: chat
style (``function.name``) or Responses style (``name``).
"""

from __future__ import annotations

from typing import Any

from .common import _mentions


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
