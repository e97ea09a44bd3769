"""Strict checks of Gemini request bodies against Google's own v1beta protos.

``google.protobuf.json_format.Parse(..., ignore_unknown_fields=False)`` rejects
misspelt fields, wrong types and bad enum names (it does not check required
fields). Use the ``gemini_protos`` fixture: after the test it parses every
body llmplug sent to a native Gemini endpoint of the fake API and fails the
test on the first that does not parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from llmplug.testing import FakeAPI, RecordedRequest

pytest.importorskip("google.ai.generativelanguage_v1beta", reason="pip install google-ai-generativelanguage")

from google.ai.generativelanguage_v1beta import types as gl  # noqa: E402
from google.protobuf import json_format  # noqa: E402

#: Method suffix of a native path -> the request message its body must parse as.
MESSAGES: dict[str, Any] = {
    "generateContent": gl.GenerateContentRequest,
    "streamGenerateContent": gl.GenerateContentRequest,
    "countTokens": gl.CountTokensRequest,
    "embedContent": gl.EmbedContentRequest,
    "batchEmbedContents": gl.BatchEmbedContentsRequest,
}
_NATIVE = re.compile(r"/v1beta/(?:models|tunedModels)/[^/:]+:(?P<method>\w+)\Z")


#: Part fields Gemini sends and takes back that the installed protos may predate
#: (server-side tool invocations of Gemini 3): checked as JSON objects, then left out
#: of the proto parse. A field the installed protos know is parsed as usual.
NEWER_PART_FIELDS = frozenset({"toolCall", "toolResponse"}) - {
    json_format_name for json_format_name in gl.Part.meta.pb.DESCRIPTOR.fields_by_camelcase_name
}


def _without_newer_fields(body: Any) -> Any:
    """``body`` with :data:`NEWER_PART_FIELDS` taken out of every content part (a part left
    empty gets ``text: "-"`` so the parse still sees a part); a non-object value fails."""
    if not NEWER_PART_FIELDS or not isinstance(body, dict):
        return body
    for content in [*(body.get("contents") or []), body.get("systemInstruction") or {}]:
        for i, part in enumerate(content.get("parts") or [] if isinstance(content, dict) else []):
            if isinstance(part, dict) and NEWER_PART_FIELDS & part.keys():
                for name in NEWER_PART_FIELDS & part.keys():
                    if not isinstance(part[name], dict):
                        raise json_format.ParseError(f"Part.{name} must be a JSON object, not {part[name]!r:.80}")
                rest = {k: v for k, v in part.items() if k not in NEWER_PART_FIELDS}
                content["parts"][i] = rest if set(rest) - {"thoughtSignature"} else {**rest, "text": "-"}
    return body


def check_body(method: str, body: bytes | str | dict[str, Any]) -> None:
    """Parse ``body`` as the request message of ``method``; raises ``json_format.ParseError``."""
    try:
        data = json.loads(body if isinstance(body, (bytes, str)) else json.dumps(body))
    except ValueError as exc:
        raise json_format.ParseError(f"the body is not JSON: {exc}") from None
    json_format.Parse(json.dumps(_without_newer_fields(data)), MESSAGES[method]()._pb, ignore_unknown_fields=False)


def invalid_bodies(requests: Iterable[RecordedRequest]) -> list[str]:
    """One line per recorded native request whose body does not parse."""
    problems = []
    for req in requests:
        found = _NATIVE.match(req.path)
        if req.method != "POST" or found is None or found.group("method") not in MESSAGES:
            continue
        if not req.headers.get("user-agent", "").startswith("llmplug/"):
            continue  # a test's own raw request, maybe invalid on purpose
        try:
            check_body(found.group("method"), req.body)
        except json_format.ParseError as exc:
            problems.append(f"{req.path}: {exc}\n    body: {req.body[:500]!r}")
    return problems


class ProtoCheck:
    """What the fixture yields: ``checked`` counts the bodies parsed; set
    ``enabled = False`` in a test that sends invalid bodies on purpose."""

    def __init__(self, api: FakeAPI) -> None:
        self.api = api
        self.enabled = True

    def problems(self) -> list[str]:
        return invalid_bodies(self.api.requests)

    @property
    def checked(self) -> int:
        return sum(
            1 for r in self.api.requests
            if r.method == "POST" and _NATIVE.match(r.path) and r.headers.get("user-agent", "").startswith("llmplug/")
        )


@pytest.fixture
def gemini_protos(api: FakeAPI) -> Iterator[ProtoCheck]:
    """Fails the test if a body llmplug sent to a native Gemini endpoint is not a valid proto."""
    check = ProtoCheck(api)
    yield check
    if check.enabled:
        problems = check.problems()
        if problems:
            pytest.fail("request bodies that Google's protos reject:\n" + "\n".join(problems), pytrace=False)
