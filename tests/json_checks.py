"""Checks on JSON values shared by the partial-JSON and structured-output tests."""

from __future__ import annotations

from typing import Any

from llmplug.core.partial_json import NOTHING


def same(a: Any, b: Any) -> bool:
    """Deep equality that also tells ``1``, ``1.0`` and ``True`` apart, and key orders."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(map(same, a, b))
    if type(a) is float:
        return repr(a) == repr(b)
    return bool(a == b)


def is_prefix(a: Any, b: Any) -> bool:
    """Whether the snapshot ``a`` may later become ``b``: objects only gain keys (in order)
    and only the last key's value may grow, lists likewise, strings only extend; numbers,
    booleans and null are final when shown."""
    if a is NOTHING:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is str:
        return b.startswith(a)
    if type(a) is dict:
        keys = list(a)
        if list(b)[: len(keys)] != keys:
            return False
        if not keys:
            return True
        return all(same(a[k], b[k]) for k in keys[:-1]) and is_prefix(a[keys[-1]], b[keys[-1]])
    if type(a) is list:
        if len(a) > len(b):
            return False
        if not a:
            return True
        last = len(a) - 1
        return all(map(same, a[:last], b[:last])) and is_prefix(a[last], b[last])
    return same(a, b)


def objects_in(node: Any) -> list[dict[str, Any]]:
    """Every object schema (``"type": "object"``) in the JSON Schema ``node``."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found.extend(objects_in(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(objects_in(item))
    return found
