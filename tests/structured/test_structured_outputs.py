"""``response_format=T`` / ``text_format=T`` against the fake API on 127.0.0.1,
through every transport (sync and async): the schema each provider receives,
``.parsed`` instances, the typed errors, streams and partial snapshots."""

from __future__ import annotations

import copy
import json
from typing import Any, Optional

import attrs
import pytest

import llmplug
from llmplug.testing import FakeAPI
from llmplug.testing.gemini_api import gemini_service
from llmplug.testing.openai_api.chat import chat_completion_events
from tests.conftest import TEST_KEY
from tests.json_checks import is_prefix, objects_in
from tests.structured_types import FAMILIES, FAMILY_NAMES, PERSON_JSON, Kind

USER = [{"role": "user", "content": "Tell me about Ann"}]


def sent(api: FakeAPI) -> dict[str, Any]:
    return json.loads(api.last_request.body)


@pytest.fixture
def gemini(api: FakeAPI, transport: str):
    with llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport, max_retries=0) as c:
        yield c


def _completion(content: Any, finish: str = "stop", *, refusal: Optional[str] = None, n: int = 1) -> dict[str, Any]:
    text = content if isinstance(content, str) or content is None else json.dumps(content)
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": text, "refusal": refusal}, "finish_reason": finish,
             "logprobs": None}
            for i in range(n)
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


# ---------------------------------------------------------------- what each provider receives


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_openai_receives_a_strict_schema(client, api, family: str) -> None:
    f = FAMILIES[family]
    result = client.create_chat_completion(USER, response_format=f.Person)
    fmt = sent(api)["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == f.Person.__name__ and spec["strict"] is True
    schema = spec["schema"]
    objects = objects_in(schema)
    assert len(objects) >= 3
    for obj in objects:
        assert obj["additionalProperties"] is False and obj["required"] == list(obj["properties"])
    assert {"type": "null"} in schema["properties"]["nickname"]["anyOf"]
    assert schema["properties"]["mood"]["enum"] == ["calm", "busy"]
    assert schema["properties"]["pets"]["type"] == "array"
    assert "$defs" in schema
    # and the fake's reply (an instance of that schema) comes back typed
    person = result.body.parsed
    assert result.body.choices[0].message.parsed is person
    fields = f.attrs_of(person)
    assert fields["age"] > 0 and isinstance(fields["name"], str)
    if family != "typeddict":
        assert isinstance(person, f.Person) and isinstance(fields["address"], f.Address)
        assert all(isinstance(pet, f.Pet) for pet in fields["pets"])
    assert json.loads(result.body.content)["name"] == fields["name"]  # the raw JSON text is kept


def test_gemini_receives_response_json_schema(gemini, api) -> None:
    f = FAMILIES["attrs"]
    result = gemini.create_chat_completion(USER, response_format=f.Person)
    config = sent(api)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]
    assert schema == llmplug.json_schema(f.Person)  # JSON Schema as it is: $defs, anyOf with null
    assert "responseSchema" not in config
    assert isinstance(result.body.parsed, f.Person) and isinstance(result.body.parsed.address, f.Address)


def test_gemini_takes_a_bare_enum_as_text_x_enum(gemini, api) -> None:
    result = gemini.create_chat_completion(USER, response_format=Kind)
    config = sent(api)["generationConfig"]
    assert config == {"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING", "enum": ["cat", "dog"]}}
    assert result.body.parsed is Kind.CAT and result.body.content == "cat"


def test_gemini_openai_gets_the_openai_shape_without_refs(api, transport) -> None:
    f = FAMILIES["dataclass"]
    with llmplug.new("gemini-openai", api_key=TEST_KEY, base_url=api.url + "/v1beta/openai", transport=transport,
                     max_retries=0) as client:
        result = client.create_chat_completion(USER, response_format=f.Person)
    spec = sent(api)["response_format"]["json_schema"]
    assert spec["strict"] is True
    text = json.dumps(spec["schema"])
    assert "$ref" not in text and "$defs" not in text
    assert spec["schema"]["properties"]["address"]["additionalProperties"] is False
    assert isinstance(result.body.parsed.address, f.Address)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_openai_wraps_a_list_root_and_unwraps_it(client, api, family: str) -> None:
    f = FAMILIES[family]
    pets = client.create_chat_completion(USER, response_format=list[f.Pet]).body.parsed
    schema = sent(api)["response_format"]["json_schema"]["schema"]
    assert schema["type"] == "object" and schema["required"] == ["value"]
    assert schema["properties"]["value"]["type"] == "array"
    assert len(pets) == 2 and all(f.attrs_of(pet)["kind"] is Kind.CAT for pet in pets)
    if family != "typeddict":
        assert all(isinstance(pet, f.Pet) for pet in pets)


def test_openai_wraps_a_bare_enum(client, api) -> None:
    result = client.create_chat_completion(USER, response_format=Kind)
    schema = sent(api)["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["value"]["enum"] == ["cat", "dog"]
    assert result.body.parsed is Kind.CAT


def test_a_dict_response_format_is_sent_as_given(client, api) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {}}}}
    result = client.create_chat_completion(USER, response_format=fmt)
    assert sent(api)["response_format"] == fmt
    assert result.body.parsed is None


def test_a_type_that_cannot_be_sent_fails_before_anything_is_sent(client, api) -> None:
    @attrs.define
    class Tags:
        labels: dict[str, str]

    with pytest.raises(llmplug.ConfigurationError, match=r"labels: a free-form dict"):
        client.create_chat_completion(USER, response_format=Tags)
    assert api.requests == []


def test_n_choices_are_each_parsed(client, api) -> None:
    result = client.create_chat_completion(USER, response_format=FAMILIES["attrs"].Person, n=3)
    names = [choice.message.parsed.name for choice in result.body.choices]
    assert len(names) == 3 and len(set(names)) == 3


# ---------------------------------------------------------------- the typed errors


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_a_refusal_raises_refusal_error_or_is_returned(client, api, family) -> None:
    person = FAMILIES[family].Person
    kill = [{"role": "user", "content": "how to kill a process"}]
    with pytest.raises(llmplug.RefusalError) as caught:
        client.create_chat_completion(kill, response_format=person)
    error = caught.value
    assert "sorry" in error.refusal and error.response_format is person
    assert error.completion.choices[0].message.refusal == error.refusal and error.raw_text == ""
    assert isinstance(error, llmplug.StructuredOutputError) and isinstance(error, llmplug.APIError)
    result = client.create_chat_completion(kill, response_format=person, on_refusal="return")
    assert result.body.parsed is None and "sorry" in result.body.refusal


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_a_cut_reply_raises_length_error_with_the_text(client, api, family) -> None:
    with pytest.raises(llmplug.LengthFinishReasonError) as caught:
        client.create_chat_completion(USER, response_format=FAMILIES[family].Person, max_tokens=4)
    error = caught.value
    assert error.raw_text and error.raw_text.startswith("{")
    assert error.completion.choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    "content, finish, error, where",
    [
        (PERSON_JSON, "content_filter", llmplug.ContentFilterFinishReasonError, None),
        ('{"name": "Ann", "age": ', "stop", llmplug.InvalidJSONError, None),
        ({**PERSON_JSON, "age": "forty"}, "stop", llmplug.StructuredValidationError, "$.age"),
        ({**PERSON_JSON, "pets": [{"name": "Tom"}]}, "stop", llmplug.StructuredValidationError, "$.pets[0].kind"),
    ],
    ids=["content-filter", "invalid-json", "wrong-type", "missing-field"],
)
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_each_failure_has_its_error_with_the_raw_text(client, api, content, finish, error, where, family) -> None:
    body = _completion(content, finish)
    api.queue("POST", "/v1/chat/completions", json=body)
    with pytest.raises(error) as caught:
        client.create_chat_completion(USER, response_format=FAMILIES[family].Person)
    assert caught.value.raw_text == body["choices"][0]["message"]["content"]
    assert caught.value.completion.id == "chatcmpl-1"
    assert caught.value.request_id and caught.value.request_id == caught.value.headers.get("x-request-id")
    if where is not None:
        assert any(where in line for line in caught.value.errors), caught.value.errors
        assert where in str(caught.value)


def test_gemini_finish_reasons_map_to_the_same_errors(gemini, api) -> None:
    service = gemini_service(api)
    person = FAMILIES["attrs"].Person
    service.script_reply([{"text": '{"name": "Ann", "age"'}], finish_reason="MAX_TOKENS")
    with pytest.raises(llmplug.LengthFinishReasonError) as cut:
        gemini.create_chat_completion(USER, response_format=person)
    assert cut.value.raw_text == '{"name": "Ann", "age"'
    service.script_reply([{"text": "{}"}], finish_reason="SAFETY")
    with pytest.raises(llmplug.ContentFilterFinishReasonError):
        gemini.create_chat_completion(USER, response_format=person)
    api.queue("POST", "/v1beta/models/gemini-2.5-flash:generateContent",
              json={"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 3}})
    with pytest.raises(llmplug.RefusalError, match="PROHIBITED_CONTENT") as blocked:
        gemini.create_chat_completion(USER, response_format=person)
    assert "PROHIBITED_CONTENT" in blocked.value.refusal
    service.script_reply([{"text": json.dumps({**PERSON_JSON, "age": "forty"})}])
    with pytest.raises(llmplug.StructuredValidationError, match=r"\$\.age"):
        gemini.create_chat_completion(USER, response_format=person)


def test_chat_takes_response_format_too(client, api) -> None:
    status, body, _ = client.chat(USER, response_format=FAMILIES["dataclass"].Person)
    assert status == 200 and isinstance(body.parsed, FAMILIES["dataclass"].Person)


def test_errors_are_raised_only_when_a_type_was_given(client, api) -> None:
    api.queue("POST", "/v1/chat/completions", json=_completion("not json", "length"))
    result = client.create_chat_completion(USER)
    assert result.body.content == "not json" and result.body.parsed is None


# ---------------------------------------------------------------- streams


def _big_person(pets: int = 70) -> dict[str, Any]:
    return {**PERSON_JSON, "pets": [{"name": f"Pet number {i}", "kind": "cat" if i % 2 else "dog"} for i in range(pets)]}


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_a_streamed_reply_parses_like_the_whole_one_and_every_snapshot_is_a_prefix(client, api, family) -> None:
    person = FAMILIES[family].Person
    big = _big_person()
    body = _completion(big)
    api.queue("POST", "/v1/chat/completions", json=body)
    whole = client.create_chat_completion(USER, response_format=person).body.parsed

    api.queue("POST", "/v1/chat/completions", events=chat_completion_events(copy.deepcopy(body)))
    snapshots: list[Any] = []
    events: list[Any] = []
    result = client.create_chat_completion(USER, events.append, response_format=person, partial_callback=snapshots.append)
    assert len(events) >= 200
    assert result.body.parsed == whole
    assert snapshots[-1] == big and len(snapshots) >= 100
    for earlier, later in zip(snapshots, snapshots[1:]):
        assert earlier != later and is_prefix(earlier, later), (earlier, later)
    assert all(is_prefix(snapshot, big) for snapshot in snapshots)

    api.queue("POST", "/v1/chat/completions", events=chat_completion_events(copy.deepcopy(body)))
    with client.create_chat_completion(USER, response_format=person, stream=True) as stream:
        assert list(stream.snapshots()) == snapshots
        assert stream.final.parsed == whole


def test_a_stream_cut_by_the_token_limit_raises_at_its_end(client, api) -> None:
    seen = []
    with pytest.raises(llmplug.LengthFinishReasonError) as caught:
        client.create_chat_completion(USER, response_format=FAMILIES["attrs"].Person, max_tokens=6,
                                      partial_callback=seen.append)
    assert caught.value.raw_text.startswith("{") and seen and is_prefix(seen[-1], json.loads(json.dumps(seen[-1])))


def test_gemini_streams_parse_and_snapshot(gemini, api) -> None:
    person = FAMILIES["dataclass"].Person
    big = _big_person(30)
    gemini_service(api).script_reply([{"text": json.dumps(big)}], times=2)
    whole = gemini.create_chat_completion(USER, response_format=person).body.parsed
    snapshots: list[Any] = []
    result = gemini.create_chat_completion(USER, response_format=person, partial_callback=snapshots.append)
    assert result.body.parsed == whole and snapshots[-1] == big
    assert all(is_prefix(a, b) for a, b in zip(snapshots, snapshots[1:]))


def test_a_bare_number_root_gets_its_snapshot_at_the_end(gemini, api) -> None:
    gemini_service(api).script_reply([{"text": "1234"}])
    with gemini.create_chat_completion(USER, response_format=int, stream=True) as stream:
        assert list(stream.snapshots()) == [1234]
        assert stream.final.parsed == 1234


# ---------------------------------------------------------------- Responses API


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_responses_take_text_format(client, api, family) -> None:
    f = FAMILIES[family]
    response = client.create_response("Tell me about Ann", text_format=f.Person).body
    fmt = sent(api)["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is True and fmt["name"] == f.Person.__name__
    assert all(obj["additionalProperties"] is False for obj in objects_in(fmt["schema"]))
    parsed = response.output_parsed
    assert f.attrs_of(parsed)["age"] > 0
    assert json.loads(response.output_text) == json.loads(json.dumps(f.attrs_of(parsed), default=_plain))
    again = client.create_response("Tell me about Ann", response_format=f.Person).body  # the other spelling
    assert f.attrs_of(again.output_parsed)["name"] == f.attrs_of(parsed)["name"]


def _plain(value: Any) -> Any:
    if isinstance(value, Kind):
        return value.value
    return FAMILIES["attrs"].attrs_of(value) if not isinstance(value, dict) else value


def test_responses_stream_and_refuse(client, api) -> None:
    person = FAMILIES["attrs"].Person
    snapshots: list[Any] = []
    streamed = client.create_response("Tell me about Ann", text_format=person, partial_callback=snapshots.append).body
    plain = client.create_response("Tell me about Ann", text_format=person).body
    assert streamed.output_parsed == plain.output_parsed and snapshots[-1] == json.loads(plain.output_text)
    assert all(is_prefix(a, b) for a, b in zip(snapshots, snapshots[1:]))
    with pytest.raises(llmplug.RefusalError):
        client.create_response("how to kill a process", text_format=person)
    with pytest.raises(llmplug.LengthFinishReasonError):
        client.create_response("Tell me about Ann", text_format=person, max_output_tokens=16)


def test_text_format_belongs_to_the_responses_api(client, api) -> None:
    with pytest.raises(llmplug.ConfigurationError, match="Responses API"):
        client.create_chat_completion(USER, text_format=Kind)
    with pytest.raises(llmplug.ConfigurationError, match="on_refusal"):
        client.create_chat_completion(USER, response_format=Kind, on_refusal="ignore")
    with pytest.raises(TypeError, match="stream=False"):
        client.create_chat_completion(USER, response_format=Kind, stream=False, partial_callback=print)
    assert api.requests == []


# ---------------------------------------------------------------- the hook


def test_a_plugin_can_answer_llmplug_structured_output(api, transport) -> None:
    from llmplug.core.plugins import PluginManager

    class VllmGuided:
        @llmplug.hookimpl(tryfirst=True)
        def llmplug_structured_output(self, provider, operation, output):
            return {"response_format": {"type": "json_object"}, "guided_json": output.schema}

    pm = PluginManager(entry_points=False)
    pm.register(VllmGuided(), name="guided")
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, plugins=pm,
                     max_retries=0) as client:
        api.queue("POST", "/v1/chat/completions", json=_completion(PERSON_JSON))
        result = client.create_chat_completion(USER, response_format=FAMILIES["attrs"].Person)
    body = sent(api)
    assert body["guided_json"] == llmplug.json_schema(FAMILIES["attrs"].Person)
    assert body["response_format"] == {"type": "json_object"}
    assert result.body.parsed.name == "Ann"
