"""Shared helpers of the fake OpenAI API: random ids, and the word rules.

Text is cut into whitespace-led words (:func:`_pieces`), which are the fake's
tokens: counted for usage (:func:`_words`), kept up to a limit
(:func:`_truncate`), streamed one per chunk. Also the text of a message
content, the first JSON object literal of a text (the arguments of a called
tool), whole-word mentions, and how tool arguments are cut when streamed. The
Gemini fake uses these too, so both fakes count and cut text alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

from ..server import Reply, RouteTable

#: The OpenAI route table: (method, path regex) -> handler(service, request, **groups).
#: Each endpoint module registers its handlers with ``@ROUTES.route(method, path)``;
#: paths match whole, so the order of registration does not matter.
ROUTES = RouteTable()


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_WORD = re.compile(r"\s*\S+")


def _list_page(items: list[dict[str, Any]], has_more: bool) -> Reply:
    """A cursor-paged list reply, as OpenAI's list endpoints give one."""
    first, last = (items[0]["id"], items[-1]["id"]) if items else (None, None)
    return Reply(json={"object": "list", "data": items, "first_id": first, "last_id": last, "has_more": has_more})


def _completion(id_prefix: str, kind: str, model: str, choices: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    """The body of a (chat or text) completion: a fresh id, ``object`` ``kind``, the time now."""
    return {"id": id_prefix + _rand(29), "object": kind, "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage}


def _choice_text(
    text: str, i: int, body: dict[str, Any], limit: int | None, render: Callable[[str], str] | None = None
) -> tuple[str, bool]:
    """Choice ``i``'s reply: ``text`` (marked for choices past the first), made
    the answer by ``render`` (a JSON answer), cut at the body's ``stop`` and at
    ``limit`` words; and whether the limit cut it."""
    marked = text + (f" (choice {i})" if i else "")
    return _truncate(_apply_stop(render(marked) if render else marked, body.get("stop")), limit)


def _rand(n: int) -> str:
    """``n`` random base62 characters."""
    value = int.from_bytes(os.urandom(n), "big")
    out = []
    for _ in range(n):
        value, r = divmod(value, 62)
        out.append(_ALNUM[r])
    return "".join(out)


def _hex(n: int) -> str:
    return os.urandom(n // 2).hex()


def _fingerprint(model: str) -> str:
    return "fp_" + hashlib.sha1(model.encode()).hexdigest()[:10]


def _pieces(text: str) -> list[str]:
    """Split text into words that keep their leading whitespace; joined they give ``text``."""
    pieces = _WORD.findall(text)
    tail = len(text) - sum(map(len, pieces))
    if tail:
        if pieces:
            pieces[-1] += text[-tail:]
        else:
            pieces = [text]
    return pieces


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def _text_of(content: Any) -> str:
    """Text of a message content: a string or a list of parts (text parts joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(texts)
    return json.dumps(content)


def _first_json_object(text: str) -> str:
    """The first JSON object literal in ``text``, verbatim, or ``"{}"``."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                return text[start:end]
        start = text.find("{", start + 1)
    return "{}"


def _mentions(name: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def _arg_pieces(arguments: str) -> list[str]:
    """Split JSON arguments the way the API streams them: in 2+ pieces."""
    pieces = re.findall(r"\w+|[^\w]+", arguments)
    if len(pieces) < 2 and len(arguments) >= 2:
        half = len(arguments) // 2
        pieces = [arguments[:half], arguments[half:]]
    return pieces or [arguments]


def _truncate(text: str, limit: int | None) -> tuple[str, bool]:
    """Keep ``limit`` words; True when something was cut."""
    if limit is None:
        return text, False
    pieces = _pieces(text)
    if len(pieces) <= limit:
        return text, False
    return "".join(pieces[:limit]), True


def _apply_stop(text: str, stop: Any) -> str:
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str) and s]
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text
