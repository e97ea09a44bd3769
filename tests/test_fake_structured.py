"""Structured outputs in the fake APIs (``llmplug.testing``), over real HTTP.

OpenAI's ``response_format`` / ``text.format`` and strict function tools,
Gemini's ``responseSchema`` / ``responseJsonSchema`` / ``text/x.enum``, and
Gemini's OpenAI-compatible ``response_format``: the answer is a deterministic
instance of the schema (:func:`llmplug.testing.schemas.schema_instance`), and
every rule the real APIs enforce is a 400 worded as theirs.
"""

from __future__ import annotations

import copy
import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest

from llmplug.testing import FakeAPI
from llmplug.testing.openai_api import REFUSAL
from llmplug.testing.schemas import check_strict, schema_instance

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
GEMINI = "/v1beta/models/gemini-2.5-flash:generateContent"
GEMINI_STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
GEMINI_OPENAI = "/v1beta/openai/chat/completions"

REPLY = "You said: Describe Ada"  # what every fake model says to PROMPT: 4 words
PROMPT = "Describe Ada"

#: A strict-mode schema with a bit of everything: $defs objects, a list of
#: them, an enum, nullable fields (anyOf and a type list), formats, a const.
PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "role": {"type": "string", "enum": ["admin", "user"]},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "score": {"type": ["number", "null"]},
        "born": {"type": "string", "format": "date"},
        "seen": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"},
        "kind": {"type": "string", "const": "person"},
        "address": {"$ref": "#/$defs/Address"},
        "friends": {"type": "array", "items": {"$ref": "#/$defs/Friend"}},
        "active": {"type": "boolean"},
    },
    "required": ["name", "age", "role", "nickname", "score", "born", "seen", "id", "kind", "address", "friends",
                 "active"],
    "additionalProperties": False,
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
        "Friend": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "since": {"type": "integer"}},
            "required": ["name", "since"],
            "additionalProperties": False,
        },
    },
}


def person_of(reply: str) -> dict[str, Any]:
    """The instance every fake answers for PERSON when its reply text is ``reply``."""
    words = len(reply.split())
    return {
        "name": reply, "age": words, "role": "admin", "nickname": reply, "score": words, "born": "2026-01-01",
        "seen": "2026-01-01T00:00:00Z", "id": "00000000-0000-4000-8000-000000000000", "kind": "person",
        "address": {"city": reply, "zip": reply}, "friends": [{"name": reply, "since": words}] * 2, "active": True,
    }


PERSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "Person", "schema": PERSON, "strict": True}}


class Answer:
    def __init__(self, status: int, raw: bytes) -> None:
        self.status, self.raw = status, raw

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def events(self) -> list[Any]:
        """The JSON data of each SSE event (``[DONE]`` left out)."""
        out = []
        for line in self.raw.decode().splitlines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append(json.loads(line[len("data: "):]))
        return out


def post(api: FakeAPI, path: str, body: Any) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return Answer(response.status, response.read())
    finally:
        conn.close()


def chat(api: FakeAPI, text: str = PROMPT, **params: Any) -> Answer:
    return post(api, CHAT, {"model": "gpt-4.1", "messages": [{"role": "user", "content": text}], **params})


def openai_error(answer: Answer) -> dict[str, Any]:
    assert answer.status == 400, answer.raw
    error = answer.json["error"]
    assert error["type"] == "invalid_request_error"
    return error


def gemini(api: FakeAPI, config: dict[str, Any], text: str = PROMPT, path: str = GEMINI, **more: Any) -> Answer:
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": config, **more}
    return post(api, path, body)


def gemini_error(answer: Answer) -> str:
    assert answer.status == 400, answer.raw
    error = answer.json["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    return error["message"]


def gemini_text(answer: Answer) -> str:
    assert answer.status == 200, answer.raw
    return "".join(p["text"] for p in answer.json["candidates"][0]["content"]["parts"])


# --------------------------------------------------------------------------
# the shared instance generator
# --------------------------------------------------------------------------


def test_instance_of_a_recursive_schema_stops_at_depth_three():
    tree = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {
            "label": {"type": "string"},
            "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
        }}},
    }
    root = schema_instance(tree, "x")
    chain, node = 0, root
    while node is not None:
        chain, node = chain + 1, node["parent"]
    assert chain == 3  # Node expanded three times inside itself, then null where null is allowed
    leaf = root["children"][0]["children"][0]
    assert leaf == {"label": "x", "parent": None, "children": []}  # arrays of a too-deep ref stay empty
    assert len(root["children"]) == 2 and len(root["children"][1]["children"]) == 2
    chain = {"$ref": "#/$defs/Link",
             "$defs": {"Link": {"type": ["object", "null"], "properties": {"next": {"$ref": "#/$defs/Link"}}}}}
    assert schema_instance(chain, "x") == {"next": {"next": {"next": None}}}
    ring = {"$ref": "#/$defs/Ring",
            "$defs": {"Ring": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Ring"}}}}}
    assert schema_instance(ring, "x") == {"next": {"next": {"next": {}}}}  # not nullable: an empty object


def test_instance_honours_item_counts_bounds_allof_and_gemini_types():
    schema = {
        "type": "OBJECT",
        "propertyOrdering": ["b", "a"],
        "properties": {
            "a": {"type": "ARRAY", "items": {"type": "INTEGER", "minimum": 10}, "minItems": 3},
            "b": {"type": "array", "items": {"type": "number", "maximum": 1}, "maxItems": 1},
            "c": {"allOf": [{"$ref": "#/definitions/Base"}, {"properties": {"extra": {"type": "boolean"}}}]},
            "d": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
            "e": {"type": ["null"]},
        },
        "definitions": {"Base": {"type": "object", "properties": {"when": {"type": "string", "format": "time"}}}},
    }
    value = schema_instance(schema, "one two")
    assert list(value)[:2] == ["b", "a"]
    assert value == {"b": [1], "a": [10, 10, 10], "c": {"when": "00:00:00Z", "extra": True}, "d": [2, "one two"],
                     "e": None}


def test_instances_validate_against_their_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    for schema in (PERSON, {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"},
                                                                      "minItems": 5, "uniqueItems": False}}}):
        jsonschema.validate(schema_instance(schema, REPLY), schema)


# --------------------------------------------------------------------------
# OpenAI Chat Completions
# --------------------------------------------------------------------------


def test_chat_json_schema_answers_an_instance_of_the_schema(api):
    answer = chat(api, response_format=PERSON_FORMAT)
    assert answer.status == 200, answer.raw
    choice = answer.json["choices"][0]
    content = choice["message"]["content"]
    assert json.loads(content) == person_of(REPLY)
    assert ", " in content and '": ' in content  # spaced separators: limits and streams cut it by words
    assert choice["finish_reason"] == "stop" and choice["message"]["refusal"] is None
    assert answer.json["usage"]["completion_tokens"] == len(content.split())


def test_chat_json_schema_without_strict_takes_any_schema(api):
    loose = {"type": "object", "properties": {"scores": {"type": "object", "additionalProperties": {"type": "integer"}},
                                              "site": {"type": "string", "format": "uri"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "loose", "schema": loose}}
    answer = chat(api, response_format=fmt)
    assert json.loads(answer.json["choices"][0]["message"]["content"]) == {"scores": {}, "site": "https://example.com/"}


def _without(path: tuple[str, ...], key: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        node = schema
        for step in path:
            node = node[step]
        del node[key]
    return change


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        node = schema
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    return change


_NOT_FALSE = "'additionalProperties' is required to be supplied and to be false."
_REQUIRED = "'required' is required to be supplied and to be an array including every key in properties."

STRICT_VIOLATIONS = [
    pytest.param(_without(("$defs", "Address"), "additionalProperties"),
                 f"In context=('$defs', 'Address'), {_NOT_FALSE}", id="def-without-additionalProperties"),
    pytest.param(_set(("properties", "address"), {"type": "object", "properties": {"city": {"type": "string"}},
                                                  "required": ["city"]}),
                 f"In context=('properties', 'address'), {_NOT_FALSE}", id="nested-without-additionalProperties"),
    pytest.param(_set(("additionalProperties",), True), f"In context=(), {_NOT_FALSE}", id="root-open"),
    pytest.param(_set(("properties", "address"), {"type": "object", "additionalProperties": {"type": "string"}}),
                 f"In context=('properties', 'address'), {_NOT_FALSE}", id="free-form-dict"),
    pytest.param(_set(("properties", "friends", "items"), {"type": "object", "properties": {}}),
                 f"In context=('properties', 'friends', 'items'), {_NOT_FALSE}", id="in-items"),
    pytest.param(_set(("properties", "nickname", "anyOf", 0), {"type": "object", "properties": {}}),
                 f"In context=('properties', 'nickname', 'anyOf', '0'), {_NOT_FALSE}", id="in-anyOf"),
    pytest.param(_set(("required",), ["name", "role"]), f"In context=(), {_REQUIRED} Missing 'age'.",
                 id="missing-required"),
    pytest.param(_without(("$defs", "Friend"), "required"), f"In context=('$defs', 'Friend'), {_REQUIRED} "
                 "Missing 'name'.", id="no-required"),
    pytest.param(_set(("$defs", "Address", "required"), ["city", "zip", "country"]),
                 f"In context=('$defs', 'Address'), {_REQUIRED} Extra required key 'country' supplied.",
                 id="extra-required"),
    pytest.param(_set(("properties", "address"), {"$ref": "#/$defs/Address", "description": "Where"}),
                 "In context=('properties', 'address'), $ref cannot have keywords {'description'}.",
                 id="ref-with-siblings"),
    pytest.param(_set(("properties", "born", "format"), "uri"),
                 "In context=('properties', 'born'), 'uri' is not a valid format.", id="bad-format"),
    pytest.param(lambda s: s.update(type="array"),
                 "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'.", id="root-array"),
    pytest.param(lambda s: (s.clear(), s.update(anyOf=[copy.deepcopy(PERSON), {"type": "null"}])),
                 "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'.", id="root-anyOf"),
]


@pytest.mark.parametrize(("change", "problem"), STRICT_VIOLATIONS)
def test_chat_strict_schema_rules(api, change, problem):
    schema = copy.deepcopy(PERSON)
    change(schema)
    fmt = {"type": "json_schema", "json_schema": {"name": "Person", "schema": schema, "strict": True}}
    error = openai_error(chat(api, response_format=fmt))
    assert error["message"] == f"Invalid schema for response_format 'Person': {problem}"
    assert error["param"] == "response_format"
    # the same schema without strict is answered
    fmt["json_schema"]["strict"] = False
    assert chat(api, response_format=fmt).status == 200


def test_check_strict_accepts_the_strict_person_schema():
    check_strict(PERSON)  # raises on any broken rule


@pytest.mark.parametrize(
    ("json_schema", "param", "code", "needle"),
    [
        ({"schema": PERSON}, "response_format.json_schema.name", "missing_required_parameter",
         "Missing required parameter: 'response_format.json_schema.name'."),
        ({"name": "my person", "schema": PERSON}, "response_format.json_schema.name", "invalid_value",
         "string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
        ({"name": "P" * 65, "schema": PERSON}, "response_format.json_schema.name", "string_above_max_length",
         "string too long. Expected a string with maximum length 64, but got a string with length 65 instead."),
        ({"name": "Person", "schema": "{}"}, "response_format.json_schema.schema", "invalid_type",
         "expected an object, but got a string instead."),
        ({"name": "Person", "schema": PERSON, "strict": "yes"}, "response_format.json_schema.strict", "invalid_type",
         "expected a boolean, but got a string instead."),
    ],
)
def test_chat_json_schema_fields_are_checked(api, json_schema, param, code, needle):
    error = openai_error(chat(api, response_format={"type": "json_schema", "json_schema": json_schema}))
    assert (error["param"], error["code"]) == (param, code)
    assert error["message"].endswith(needle)


def test_chat_response_format_type_is_checked(api):
    error = openai_error(chat(api, response_format={"type": "yaml"}))
    assert error["param"] == "response_format.type"
    assert error["message"] == "Invalid value: 'yaml'. Supported values are: 'text', 'json_object', and 'json_schema'."
    error = openai_error(chat(api, response_format={"type": "json_schema"}))
    assert error["param"] == "response_format.json_schema" and error["code"] == "missing_required_parameter"


def test_chat_json_object_needs_the_word_json(api):
    error = openai_error(chat(api, response_format={"type": "json_object"}))
    assert error["message"] == ("'messages' must contain the word 'json' in some form, to use 'response_format' of "
                                "type 'json_object'.")
    assert error["param"] == "messages"
    answer = chat(api, "Describe Ada as JSON", response_format={"type": "json_object"})
    assert json.loads(answer.json["choices"][0]["message"]["content"]) == {"text": "You said: Describe Ada as JSON"}
    system = {"role": "system", "content": "Answer in Json."}
    body = {"model": "gpt-4.1", "messages": [system, {"role": "user", "content": PROMPT}],
            "response_format": {"type": "json_object"}}
    assert json.loads(post(api, CHAT, body).json["choices"][0]["message"]["content"]) == {"text": REPLY}


def test_chat_text_format_answers_text(api):
    assert chat(api, response_format={"type": "text"}).json["choices"][0]["message"]["content"] == REPLY


def test_chat_max_tokens_cuts_the_json(api):
    full = chat(api, response_format=PERSON_FORMAT).json["choices"][0]["message"]["content"]
    for limit in ("max_tokens", "max_completion_tokens"):
        choice = chat(api, response_format=PERSON_FORMAT, **{limit: 5}).json["choices"][0]
        assert choice["finish_reason"] == "length"
        assert choice["message"]["content"] == " ".join(full.split(" ")[:5])
        with pytest.raises(json.JSONDecodeError):
            json.loads(choice["message"]["content"])


def test_chat_stop_cuts_the_json(api):
    content = chat(api, response_format=PERSON_FORMAT, stop=['"role"']).json["choices"][0]["message"]["content"]
    assert content == '{"name": "You said: Describe Ada", "age": 4, '


def test_chat_n_choices_are_distinct_instances(api):
    choices = chat(api, response_format=PERSON_FORMAT, n=3).json["choices"]
    assert [json.loads(c["message"]["content"]) for c in choices] == [
        person_of(REPLY), person_of(REPLY + " (choice 1)"), person_of(REPLY + " (choice 2)")]


def test_chat_stream_pieces_the_same_json(api):
    whole = chat(api, response_format=PERSON_FORMAT).json["choices"][0]["message"]["content"]
    events = chat(api, response_format=PERSON_FORMAT, stream=True).events()
    pieces = [e["choices"][0]["delta"].get("content") for e in events]
    pieces = [p for p in pieces if p]
    assert "".join(pieces) == whole and len(pieces) == len(whole.split())
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


def test_chat_refuses_a_flagged_prompt_even_with_a_schema(api):
    message = chat(api, "How do I kill a process, said the idiot", response_format=PERSON_FORMAT).json
    message = message["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] == REFUSAL


def test_chat_tool_calls_come_before_the_schema(api):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    choice = chat(api, "lookup Ada", response_format=PERSON_FORMAT, tools=tools).json["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "lookup"
    after = {"model": "gpt-4.1", "response_format": PERSON_FORMAT, "tools": tools, "messages": [
        {"role": "user", "content": "lookup Ada"}, choice["message"],
        {"role": "tool", "tool_call_id": choice["message"]["tool_calls"][0]["id"], "content": "found"}]}
    content = post(api, CHAT, after).json["choices"][0]["message"]["content"]
    assert json.loads(content) == person_of("Tool result: found")


def test_chat_strict_function_parameters_are_checked(api):
    loose = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tools = [{"type": "function", "function": {"name": "ok", "parameters": PERSON, "strict": True}},
             {"type": "function", "function": {"name": "get_weather", "parameters": loose, "strict": True}}]
    error = openai_error(chat(api, tools=tools))
    assert error["message"] == f"Invalid schema for function 'get_weather': In context=(), {_NOT_FALSE}"
    assert (error["param"], error["code"]) == ("tools[1].function.parameters", "invalid_function_parameters")
    tools[1]["function"]["strict"] = False
    assert chat(api, tools=tools).status == 200


# --------------------------------------------------------------------------
# OpenAI Responses API
# --------------------------------------------------------------------------


def respond(api: FakeAPI, fmt: Any, text: str = PROMPT, **params: Any) -> Answer:
    return post(api, RESPONSES, {"model": "gpt-4.1", "input": text, "text": {"format": fmt}, **params})


def output_text(response: dict[str, Any]) -> str:
    message = next(item for item in response["output"] if item["type"] == "message")
    return message["content"][0]["text"]


RESPONSE_FORMAT = {"type": "json_schema", "name": "Person", "schema": PERSON, "strict": True}


def test_responses_text_format_json_schema(api):
    response = respond(api, RESPONSE_FORMAT).json
    assert json.loads(output_text(response)) == person_of(REPLY)
    assert response["status"] == "completed" and response["text"]["format"]["name"] == "Person"
    assert json.loads(output_text(respond(api, {"type": "json_object"}, "Reply in JSON").json)) == {
        "text": "You said: Reply in JSON"}
    assert output_text(respond(api, {"type": "text"}).json) == REPLY


def test_responses_stream_pieces_the_same_json(api):
    whole = output_text(respond(api, RESPONSE_FORMAT).json)
    events = respond(api, RESPONSE_FORMAT, stream=True).events()
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == whole and len(deltas) > 10
    assert next(e for e in events if e["type"] == "response.output_text.done")["text"] == whole


def test_responses_max_output_tokens_cuts_the_json(api):
    response = respond(api, RESPONSE_FORMAT, max_output_tokens=3).json
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert output_text(response) == '{"name": "You said:'


def test_responses_refusal_wins_over_the_format(api):
    response = respond(api, RESPONSE_FORMAT, "you idiot").json
    assert response["output"][0]["content"] == [{"type": "refusal", "refusal": REFUSAL}]


def test_responses_strict_rules_and_fields(api):
    schema = copy.deepcopy(PERSON)
    del schema["$defs"]["Friend"]["additionalProperties"]
    error = openai_error(respond(api, {**RESPONSE_FORMAT, "schema": schema}))
    assert error["message"] == ("Invalid schema for response_format 'Person': In context=('$defs', 'Friend'), "
                                f"{_NOT_FALSE}")
    assert (error["param"], error["code"]) == ("text.format.schema", "invalid_json_schema")
    error = openai_error(respond(api, {"type": "json_schema", "name": "Person"}))
    assert (error["param"], error["code"]) == ("text.format.schema", "missing_required_parameter")
    error = openai_error(respond(api, {"type": "json_schema", "schema": PERSON}))
    assert error["param"] == "text.format.name"
    error = openai_error(respond(api, {"type": "json_object"}))
    assert error["param"] == "input" and "the word 'json'" in error["message"]
    assert respond(api, {"type": "json_object"}, instructions="Answer in JSON").status == 200


def test_responses_strict_function_tools(api):
    params = {"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": False}
    tools = [{"type": "function", "name": "find", "parameters": params, "strict": True}]
    error = openai_error(post(api, RESPONSES, {"model": "gpt-4.1", "input": PROMPT, "tools": tools}))
    assert error["message"] == f"Invalid schema for function 'find': In context=(), {_REQUIRED} Missing 'q'."
    assert (error["param"], error["code"]) == ("tools[0].parameters", "invalid_function_parameters")


# --------------------------------------------------------------------------
# Gemini native
# --------------------------------------------------------------------------


def test_gemini_json_schema_with_defs_anyof_and_free_dicts(api):
    schema = {**copy.deepcopy(PERSON), "additionalProperties": True}
    schema["properties"]["meta"] = {"type": "object", "additionalProperties": {"type": "string"}}
    text = gemini_text(gemini(api, {"responseMimeType": "application/json", "responseJsonSchema": schema}))
    assert json.loads(text) == {**person_of(REPLY), "meta": {}}


def test_gemini_response_schema_openapi_subset(api):
    schema = {"type": "OBJECT", "properties": {
        "title": {"type": "STRING"}, "mood": {"type": "STRING", "format": "enum", "enum": ["calm", "busy"]},
        "tags": {"type": "ARRAY", "items": {"type": "STRING"}}, "count": {"type": "INTEGER", "nullable": True},
    }, "propertyOrdering": ["count", "title", "mood", "tags"]}
    text = gemini_text(gemini(api, {"responseMimeType": "application/json", "responseSchema": schema}))
    assert text == json.dumps({"count": 4, "title": REPLY, "mood": "calm", "tags": [REPLY, REPLY]})


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "object", "properties": {"home": {"$ref": "#/$defs/Address"}}},
         "Unknown name \"$ref\" at 'generation_config.response_schema.properties[0].value': Cannot find field."),
        ({"type": "object", "$defs": {"A": {"type": "string"}}},
         "Unknown name \"$defs\" at 'generation_config.response_schema': Cannot find field."),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
         "Unknown name \"additionalProperties\" at 'generation_config.response_schema': Cannot find field."),
        ({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": ["string", "null"]}}},
         "Unknown name \"type\" at 'generation_config.response_schema.properties[1].value': Proto field is not "
         "repeating, cannot start list."),
        ({"type": "TEXT"}, "Invalid value at 'generation_config.response_schema.type'"),
    ],
)
def test_gemini_response_schema_refuses_json_schema_keywords(api, schema, needle):
    message = gemini_error(gemini(api, {"responseMimeType": "application/json", "responseSchema": schema}))
    assert needle in message


def test_gemini_both_schemas_is_a_400(api):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    answer = gemini(api, {"responseMimeType": "application/json", "responseSchema": schema,
                          "responseJsonSchema": schema})
    assert "response_schema and response_json_schema cannot both be set" in gemini_error(answer)
    assert answer.json["error"]["details"][0]["fieldViolations"][0]["field"] == "generation_config.response_json_schema"


@pytest.mark.parametrize("mime", [None, "text/plain", "application/xml"])
def test_gemini_schema_needs_a_json_or_enum_mime_type(api, mime):
    config = {"responseJsonSchema": {"type": "object"}}
    if mime:
        config["responseMimeType"] = mime
    message = gemini_error(gemini(api, config))
    assert "response_json_schema is only supported when response_mime_type is `application/json` or " \
           "`text/x.enum`" in message


def test_gemini_text_x_enum_answers_the_bare_value(api):
    enum = {"type": "STRING", "format": "enum", "enum": ["positive", "negative"]}
    assert gemini_text(gemini(api, {"responseMimeType": "text/x.enum", "responseSchema": enum})) == "positive"
    json_enum = {"type": "string", "enum": ["negative", "positive"]}
    assert gemini_text(gemini(api, {"responseMimeType": "text/x.enum", "responseJsonSchema": json_enum})) == "negative"
    message = gemini_error(gemini(api, {"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING"}}))
    assert "`text/x.enum` needs a schema with `enum` values" in message


def test_gemini_json_is_cut_by_max_output_tokens_and_streamed_in_pieces(api):
    config = {"responseMimeType": "application/json", "responseJsonSchema": PERSON}
    whole = gemini_text(gemini(api, config))
    cut = gemini(api, {**config, "maxOutputTokens": 4}).json["candidates"][0]
    assert cut["finishReason"] == "MAX_TOKENS" and cut["content"]["parts"][0]["text"] == " ".join(whole.split(" ")[:4])
    events = gemini(api, config, path=GEMINI_STREAM).events()
    texts = [p["text"] for e in events for c in e["candidates"] for p in c.get("content", {}).get("parts", [])]
    assert "".join(texts) == whole and len(texts) > 3


def test_gemini_functions_with_json_schema_parameters_are_still_called(api):
    params = {"type": "object", "properties": {"who": {"$ref": "#/$defs/Who"}}, "$defs": {"Who": {"type": "string"}},
              "additionalProperties": False}
    tools = [{"functionDeclarations": [{"name": "lookup", "parametersJsonSchema": params}]}]
    config = {"responseMimeType": "application/json", "responseJsonSchema": PERSON}
    answer = gemini(api, config, 'lookup {"who": "Ada"}', tools=tools)
    assert answer.json["candidates"][0]["content"]["parts"][0]["functionCall"] == {"name": "lookup",
                                                                                 "args": {"who": "Ada"}}
    tools = [{"functionDeclarations": [{"name": "lookup", "parameters": params}]}]
    assert 'Unknown name "$defs"' in gemini_error(gemini(api, {}, "lookup", tools=tools))


# --------------------------------------------------------------------------
# Gemini's OpenAI-compatible endpoint
# --------------------------------------------------------------------------


def test_gemini_openai_json_schema_tolerates_strict(api):
    loose = {"type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array",
                                                                                   "items": {"type": "string"}}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "loose schema", "schema": loose, "strict": True}}
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": PROMPT}], "response_format": fmt}
    answer = post(api, GEMINI_OPENAI, body)
    assert answer.status == 200, answer.raw
    content = answer.json["choices"][0]["message"]["content"]
    assert json.loads(content) == {"name": REPLY, "tags": [REPLY, REPLY]}
    events = post(api, GEMINI_OPENAI, {**body, "stream": True}).events()
    pieces = [e["choices"][0]["delta"].get("content") or "" for e in events]
    assert "".join(pieces) == content and len([p for p in pieces if p]) > 3
    answer = post(api, GEMINI_OPENAI, {**body, "response_format": {"type": "json_object"}})
    assert json.loads(answer.json["choices"][0]["message"]["content"]) == {"text": REPLY}
