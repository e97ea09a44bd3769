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


def check_body(method: str, body: bytes | str | dict[str, Any]) -> None:
    """Parse ``body`` as the request message of ``method``; raises ``json_format.ParseError``."""
    text = body if isinstance(body, (bytes, str)) else json.dumps(body)
    json_format.Parse(text, MESSAGES[method]()._pb, ignore_unknown_fields=False)


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
