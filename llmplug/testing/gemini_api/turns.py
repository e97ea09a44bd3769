"""Gemini's own rules on a request's turns, beyond what the parser checks.

Roles, non-empty parts with exactly one data field, a function response turn
right after its call turn with as many responses as calls, thought signatures
on the current turn's calls for ``gemini-3*`` models, and valid function
declaration names; each broken rule is Gemini's 400.
"""

from __future__ import annotations

import re
from typing import Any

from .checks import _DATA_FIELDS
from .common import _invalid


def _check_contents(contents: list[Any], where: str, entry: dict[str, Any] | None = None) -> None:
    if not contents:
        raise _invalid(f"* {where}.contents: contents is not specified\n", f"{where}.contents")
    for i, turn in enumerate(contents):
        role = turn.get("role") or "user"
        if role not in ("user", "model"):
            raise _invalid("Please use a valid role: user, model.")
        _check_parts(turn.get("parts") or [], f"{where}.contents[{i}]")
    for i, turn in enumerate(contents):
        responses = [p for p in turn["parts"] if "functionResponse" in p]
        if not responses:
            continue
        previous = contents[i - 1] if i else None
        calls = [p for p in previous["parts"] if "functionCall" in p] if previous is not None else []
        if not calls or previous.get("role") != "model":
            raise _invalid(
                "Please ensure that function response turn comes immediately after a function call turn."
            )
        if len(responses) != len(calls):
            raise _invalid(
                "Please ensure that the number of function response parts is equal to the number of function "
                "call parts of the function call turn."
            )
    if entry is not None and entry["name"].startswith("models/gemini-3"):
        _check_signatures(contents)


def _check_parts(parts: list[Any], where: str) -> None:
    if not parts:
        raise _invalid(f"* {where}.parts: contents.parts must not be empty.\n", f"{where}.parts")
    for j, part in enumerate(parts):
        set_fields = [f for f in _DATA_FIELDS if part.get(f) not in (None, "")]
        if not set_fields and part.get("text") == "" and part.get("thoughtSignature"):
            set_fields = ["text"]  # Gemini 3 ends replies with a signed empty text part and takes it back
        if not set_fields:
            raise _invalid(
                f"* {where}.parts[{j}].data: required oneof field 'data' must have one initialized field\n",
                f"{where}.parts[{j}].data",
            )
        if len(set_fields) > 1:
            raise _invalid(
                f"Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '{set_fields[1]}'",
                f"{where}.parts[{j}]",
            )


def _current_turn_start(contents: list[dict[str, Any]]) -> int:
    for i in range(len(contents) - 1, -1, -1):
        turn = contents[i]
        if (turn.get("role") or "user") == "user" and any("functionResponse" not in p for p in turn["parts"]):
            return i
    return 0


def _check_signatures(contents: list[dict[str, Any]]) -> None:
    """Gemini 3: the first call of each model turn of the current turn needs its signature."""
    for i in range(_current_turn_start(contents), len(contents)):
        turn = contents[i]
        calls = [p for p in turn["parts"] if "functionCall" in p]
        if turn.get("role") == "model" and calls and not calls[0].get("thoughtSignature"):
            raise _invalid(_missing_signature(calls[0]["functionCall"].get("name"), i + 1))


def _missing_signature(name: Any, position: int) -> str:
    return (
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
        "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
        f"function call `default_api:{name}` , position {position}. Please refer to "
        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    )


_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")


def _declared(body: dict[str, Any]) -> list[str]:
    names = []
    for t, tool in enumerate(body.get("tools") or []):
        for d, decl in enumerate(tool.get("functionDeclarations") or []):
            name = decl.get("name")
            if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
                field = f"tools[{t}].function_declarations[{d}].name"
                raise _invalid(
                    f"* GenerateContentRequest.{field}: Invalid function name. Must start with a letter or an "
                    "underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or "
                    "dashes (-), with a maximum length of 64.\n",
                    field,
                )
            names.append(name)
    return names
