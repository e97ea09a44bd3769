"""Message mapping for ``gemini``: OpenAI chat messages become Gemini's
``systemInstruction`` and ``contents``, and a reply Gemini sent is replayed as
Gemini sent it. A tool call's ``extra_content.google.thought_signature`` goes back
as its part's ``thoughtSignature``; a message that keeps all its parts in
``extra_content.google.parts`` (thoughts, signed text, code execution...) sends
those parts back exactly; tool-call ids made up for calls Gemini gave none
(:data:`GENERATED_ID_PREFIX`) are never sent back, and a tool result's function
name is looked up from the assistant message that made the call.
"""

from __future__ import annotations

import base64
import copy
import json
import mimetypes
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from llmplug.plugin import (
    ConfigurationError,
    Model,
)

#: Prefix of the tool-call ids made up for ``functionCall`` parts that carry none.
GENERATED_ID_PREFIX = "gencall_"


# ---------------------------------------------------------------- messages


def map_messages(messages: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """OpenAI chat messages -> (``systemInstruction``, ``contents``).

    System and developer messages (wherever they are) become the system
    instruction; assistant turns are role ``model``; tool results are
    ``functionResponse`` parts of a user turn; consecutive turns of one role
    are merged; turns left without parts are dropped.
    """
    if not isinstance(messages, (list, tuple)):
        raise ConfigurationError("messages must be a list of message dicts")
    history = [_as_dict(m, i) for i, m in enumerate(messages)]
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    for i, msg in enumerate(history):
        role = msg.get("role")
        label = f"messages[{i}]"
        if role in ("system", "developer"):
            system.extend(_text_parts(msg.get("content"), label))
            continue
        if role == "user":
            turn, parts = "user", _user_parts(msg.get("content"), label)
        elif role in ("assistant", "model"):
            turn, parts = "model", _assistant_parts(msg, label)
        elif role in ("tool", "function"):
            turn, parts = "user", [_function_response_part(msg, history[:i], label)]
        else:
            raise ConfigurationError(f"{label} has role {role!r}; use system, developer, user, assistant or tool")
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn, "parts": parts})
    return ({"parts": system} if system else None), contents


def _as_dict(message: Any, index: int) -> dict[str, Any]:
    if isinstance(message, Model):
        message = message.raw
    if not isinstance(message, Mapping):
        raise ConfigurationError(
            f"messages[{index}] must be a dict with 'role' and 'content', not {type(message).__name__}"
        )
    return dict(message)


def _text_parts(content: Any, label: str) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, list):
        out = []
        for part in content:
            if not isinstance(part, Mapping):
                raise ConfigurationError(f"{label}: only text parts are allowed here, not {part!r:.80}")
            if isinstance(part.get("text"), str) and part.get("type", "text") in ("text", "refusal"):
                if part["text"]:
                    out.append({"text": part["text"]})
            elif isinstance(part.get("refusal"), str):
                out.append({"text": part["refusal"]})
            else:
                raise ConfigurationError(f"{label}: only text parts are allowed here, not {part!r:.80}")
        return out
    raise ConfigurationError(f"{label}: content must be a string or a list of parts, not {type(content).__name__}")


def _user_parts(content: Any, label: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return _text_parts(content, label)
    out: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        where = f"{label}.content[{i}]"
        if not isinstance(part, Mapping):
            raise ConfigurationError(f"{where} must be a dict such as {{'type': 'text', 'text': '...'}}")
        kind = part.get("type")
        if kind is None:
            out.append(dict(part))  # a Gemini part ({"inlineData": ...}, {"fileData": ...}): untouched
        elif kind == "text":
            if part.get("text"):
                out.append({"text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            out.append(_url_part(url, where))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            fmt = audio.get("format") or "wav"
            out.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": audio.get("data", "")}})
        elif kind == "file":
            file = part.get("file") or {}
            if file.get("file_data"):
                data = file["file_data"]
                if data.startswith("data:"):
                    out.append(_url_part(data, where))
                else:
                    mime = mimetypes.guess_type(file.get("filename") or "")[0] or "application/octet-stream"
                    out.append({"inlineData": {"mimeType": mime, "data": data}})
            elif file.get("file_id"):
                out.append(_url_part(file["file_id"], where))
            else:
                raise ConfigurationError(f"{where}: a file part needs 'file_data' or 'file_id'")
        else:
            raise ConfigurationError(f"{where}: content part type {kind!r} has no Gemini equivalent")
    return out


def _url_part(url: Any, where: str) -> dict[str, Any]:
    """A ``data:`` URL -> ``inlineData``; any other URL -> ``fileData``."""
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{where}: needs a URL")
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        if not sep:
            raise ConfigurationError(f"{where}: malformed data URL (no ',')")
        mime, _, flags = head.partition(";")
        if "base64" not in flags.split(";"):
            data = base64.b64encode(unquote_to_bytes(data)).decode("ascii")
        return {"inlineData": {"mimeType": mime or "application/octet-stream", "data": data}}
    file: dict[str, Any] = {"fileUri": url}
    mime = mimetypes.guess_type(urlsplit(url).path)[0]
    if mime:
        file = {"mimeType": mime, **file}
    return {"fileData": file}


def _assistant_parts(msg: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """An assistant message's parts: the ones Gemini sent, kept in
    ``extra_content.google.parts``, exactly; else its text, then its calls."""
    parts = _text_parts(msg.get("content"), label)
    calls = []
    for call in msg.get("tool_calls") or []:
        if not isinstance(call, Mapping):
            raise ConfigurationError(f"{label}: each tool call must be a dict")
        calls.append(_function_call_part(call, label))
    legacy = msg.get("function_call")
    if isinstance(legacy, Mapping):
        calls.append(_function_call_part({"function": legacy}, label))
    kept = kept_parts(msg)
    if kept is None:
        return parts + calls
    if not isinstance(kept, list) or not all(isinstance(part, Mapping) for part in kept):
        raise ConfigurationError(f"{label}: extra_content.google.parts must be the list of part dicts Gemini sent")
    if _part_text(kept) != _part_text(parts) or _part_calls(kept) != _part_calls(calls):
        raise ConfigurationError(
            f"{label}: its content or tool calls no longer match extra_content.google.parts, the parts Gemini "
            "sent (sent back exactly, with their thought signatures); undo the edit, or remove 'extra_content' "
            "from the message to send the edited text and calls without Gemini's parts and signatures"
        )
    return [dict(part) for part in copy.deepcopy(kept)]


def kept_parts(message: Mapping[str, Any]) -> Any:
    """The parts of a Gemini reply kept on its message (``extra_content.google.parts``), or ``None``."""
    extra = message.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    return google.get("parts") if isinstance(google, Mapping) else None


def _part_text(parts: list[Mapping[str, Any]]) -> str:
    """The answer text of ``parts``: their non-thought text parts, joined."""
    return "".join(p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))


def _part_calls(parts: list[Mapping[str, Any]]) -> list[tuple[Any, Any]]:
    """(name, args) of each ``functionCall`` part."""
    return [(p["functionCall"].get("name"), p["functionCall"].get("args") or {})
            for p in parts if isinstance(p.get("functionCall"), Mapping)]


def _function_call_part(call: Mapping[str, Any], label: str) -> dict[str, Any]:
    fn = call.get("function") or {}
    arguments = fn.get("arguments")
    if isinstance(arguments, Mapping):
        args = dict(arguments)
    else:
        try:
            args = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
        except ValueError:
            raise ConfigurationError(f"{label}: tool call arguments are not valid JSON: {arguments!r:.100}") from None
        if not isinstance(args, dict):
            raise ConfigurationError(f"{label}: tool call arguments must be a JSON object, not {arguments!r:.100}")
    function_call: dict[str, Any] = {"name": fn.get("name"), "args": args}
    call_id = call.get("id")
    if call_id and not str(call_id).startswith(GENERATED_ID_PREFIX):
        function_call = {"id": call_id, **function_call}
    part: dict[str, Any] = {"functionCall": function_call}
    signature = thought_signature(call)
    if signature:
        part["thoughtSignature"] = signature
    return part


def thought_signature(call: Mapping[str, Any]) -> str | None:
    """The thought signature a tool call carries (``extra_content.google.thought_signature``)."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    signature = google.get("thought_signature") if isinstance(google, Mapping) else None
    return signature if isinstance(signature, str) else None


def _function_response_part(msg: dict[str, Any], earlier: list[dict[str, Any]], label: str) -> dict[str, Any]:
    call_id = msg.get("tool_call_id")
    name = msg.get("name") or _called_name(call_id, earlier)
    if not name:
        raise ConfigurationError(
            f"{label}: tool_call_id {call_id!r} matches no tool call of an earlier assistant message; "
            "Gemini needs the function's name: add 'name': '<function name>' to the tool message"
        )
    response: dict[str, Any] = {"name": name, "response": _response_object(msg.get("content"))}
    if call_id and not str(call_id).startswith(GENERATED_ID_PREFIX):
        response = {"id": call_id, **response}
    return {"functionResponse": response}


def _called_name(call_id: Any, earlier: list[dict[str, Any]]) -> str | None:
    """The name of the function ``call_id`` answers: found by id in the nearest
    assistant message that has it, or (for an empty id) by position."""
    if call_id:
        for msg in reversed(earlier):
            calls = msg.get("tool_calls") if msg.get("role") in ("assistant", "model") else None
            for call in calls or []:
                if isinstance(call, Mapping) and call.get("id") == call_id:
                    return (call.get("function") or {}).get("name")
        return None
    answered = 0
    for msg in reversed(earlier):
        if msg.get("role") == "tool":
            answered += 1
        elif msg.get("role") in ("assistant", "model") and msg.get("tool_calls"):
            calls = msg["tool_calls"]
            return (calls[answered].get("function") or {}).get("name") if answered < len(calls) else None
    return None


def _response_object(content: Any) -> dict[str, Any]:
    """A tool result as ``functionResponse.response``: a JSON object stays one,
    anything else is ``{"output": <text>}``."""
    if isinstance(content, Mapping):
        return dict(content)
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    text = "" if content is None else content if isinstance(content, str) else json.dumps(content)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"output": text}
