"""Typed tools: declarations from type hints (strict for OpenAI,
``parametersJsonSchema`` for Gemini) and arguments structured into the
parameters' types in a session's tool loop, on every transport."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
from typing import Any, Optional

import attrs
import pytest

import llmplug
from llmplug.testing import FakeAPI
from tests.conftest import ASYNC_TRANSPORTS, TEST_KEY
from tests.structured_types import FAMILIES, FAMILY_NAMES, Kind


@attrs.define
class Guest:
    name: str
    vip: bool = False


@attrs.define
class Booking:
    """A hotel booking."""

    city: str
    nights: int
    guest: Guest


@dataclasses.dataclass
class Stay:
    city: str
    nights: int


CALLED: list[Any] = []


def book(booking: Booking, when: datetime.date, note: Optional[str] = None) -> str:
    """Book a hotel room."""
    CALLED.append((booking, when, note))
    return f"booked {booking.city} for {booking.guest.name}"


def extend(stay: Stay, kinds: list[Kind]) -> dict[str, Any]:
    """Extend a stay."""
    CALLED.append((stay, kinds))
    return {"ok": True, "nights": stay.nights + 1}


GOOD = 'please book {"booking": {"city": "Rome", "nights": 2, "guest": {"name": "Ann", "vip": true}}, "when": "2026-05-01", "note": null}'
BAD = 'please book {"booking": {"city": "Rome", "nights": "two", "guest": {"name": "Ann", "vip": true}}, "when": "2026-05-01", "note": null}'


@pytest.fixture(autouse=True)
def _empty_calls():
    CALLED.clear()
    yield
    CALLED.clear()


def bodies(api: FakeAPI) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in api.requests]


@pytest.fixture
def gemini(api: FakeAPI, transport: str):
    with llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport, max_retries=0) as c:
        yield c


def test_openai_receives_a_strict_declaration(client, api) -> None:
    client.create_chat_completion([{"role": "user", "content": "hi"}], tools=[llmplug.function_tool(book)])
    tool = bodies(api)[-1]["tools"][0]
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == "book" and function["description"] == "Book a hotel room." and function["strict"] is True
    params = function["parameters"]
    assert params["required"] == ["booking", "when", "note"] and params["additionalProperties"] is False
    assert params["properties"]["when"] == {"type": "string", "format": "date"}
    assert {"type": "null"} in params["properties"]["note"]["anyOf"]
    booking = params["$defs"]["Booking"]
    assert booking["additionalProperties"] is False and booking["required"] == ["city", "nights", "guest"]
    assert params["$defs"]["Guest"]["required"] == ["name", "vip"]


def test_a_tool_that_cannot_be_strict_is_declared_plainly(client, api) -> None:
    def tag(labels: dict[str, str], anything) -> str:
        return "ok"

    client.create_chat_completion([{"role": "user", "content": "hi"}], tools=[tag])  # a plain function works too
    function = bodies(api)[-1]["tools"][0]["function"]
    assert "strict" not in function
    assert function["parameters"]["properties"]["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    with pytest.raises(llmplug.ConfigurationError, match="labels: a free-form dict"):
        client.create_chat_completion([{"role": "user", "content": "hi"}], tools=[llmplug.function_tool(tag, strict=True)])


def test_gemini_receives_parameters_json_schema(gemini, api) -> None:
    gemini.create_chat_completion([{"role": "user", "content": "hi"}], tools=[llmplug.function_tool(book)])
    declaration = bodies(api)[-1]["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "book"
    schema = declaration["parametersJsonSchema"]
    assert schema["$defs"]["Booking"]["properties"]["guest"] == {"$ref": "#/$defs/Guest"}
    assert "parameters" not in declaration and "strict" not in json.dumps(declaration)


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_a_tool_loop_structures_the_arguments(api, transport, provider) -> None:
    url = api.base_url if provider == "openai" else api.url + "/v1beta"
    with llmplug.new(provider, api_key=TEST_KEY, base_url=url, transport=transport, max_retries=0) as client:
        session = client.new_chat_session()
        reply = session.run(GOOD, [book])
    (booking, when, note), = CALLED
    assert booking == Booking("Rome", 2, Guest("Ann", True)) and when == datetime.date(2026, 5, 1) and note is None
    assert "booked Rome for Ann" in reply


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_a_bad_argument_goes_back_to_the_model_naming_the_field(api, transport, provider) -> None:
    url = api.base_url if provider == "openai" else api.url + "/v1beta"
    with llmplug.new(provider, api_key=TEST_KEY, base_url=url, transport=transport, max_retries=0) as client:
        session = client.new_chat_session()
        reply = session.run(BAD, [book], max_turns=2)
    assert CALLED == []  # not called with what does not fit
    tool_message = next(m for m in session.messages if m["role"] == "tool")
    assert "invalid arguments for 'book'" in tool_message["content"]
    assert "$.booking.nights" in tool_message["content"] and "expected int" in tool_message["content"]
    assert isinstance(reply, str)  # the loop went on: the model answered the error
    if provider == "openai":
        assert bodies(api)[-1]["messages"][-1]["content"] == tool_message["content"]
    else:
        sent = json.dumps(bodies(api)[-1]["contents"][-1])
        assert "$.booking.nights" in sent


def test_the_fake_fills_a_strict_tools_arguments_from_its_schema(client, api) -> None:
    session = client.new_chat_session()
    session.run("please book a room", [book])  # no JSON in the prompt: a strict model still sends valid arguments
    (booking, when, note), = CALLED
    assert isinstance(booking, Booking) and isinstance(booking.guest, Guest) and booking.nights > 0
    assert when == datetime.date(2026, 1, 1)
    response = client.create_response("please book a room", tools=[book])
    assert json.loads(response.body.function_calls[0].arguments)["booking"]["city"]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_family_of_parameter_type_arrives_as_an_instance(client, api, family) -> None:
    f = FAMILIES[family]
    seen = []

    def adopt(pet):
        seen.append(pet)
        return "adopted"

    adopt.__annotations__ = {"pet": f.Pet, "return": str}  # a local type: no string annotation to resolve

    session = client.new_chat_session()
    session.run('adopt {"pet": {"name": "Tom", "kind": "cat"}}', [adopt])
    pet, = seen
    assert f.attrs_of(pet) == {"name": "Tom", "kind": Kind.CAT}
    if family != "typeddict":
        assert isinstance(pet, f.Pet)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_family_reports_a_bad_argument_by_its_field(client, api, family) -> None:
    f = FAMILIES[family]
    seen = []

    def adopt(pet):
        seen.append(pet)
        return "adopted"

    adopt.__annotations__ = {"pet": f.Pet, "return": str}
    session = client.new_chat_session()
    session.run('adopt {"pet": {"name": "Tom", "kind": "cow"}}', [adopt], max_turns=2)
    assert seen == []
    tool_message = next(m for m in session.messages if m["role"] == "tool")
    assert "invalid arguments for 'adopt'" in tool_message["content"] and "$.pet.kind" in tool_message["content"]
    assert bodies(api)[-1]["messages"][-1]["content"] == tool_message["content"]


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
def test_async_sessions_structure_arguments_for_async_tools(api, transport) -> None:
    async def slow_book(booking: Booking, when: datetime.date, note: Optional[str] = None) -> str:
        await asyncio.sleep(0)
        CALLED.append(booking)
        return "booked"

    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, max_retries=0) as client:
        session = client.new_chat_session()
        session.run(GOOD.replace("book", "slow_book", 1), [slow_book])
    assert CALLED == [Booking("Rome", 2, Guest("Ann", True))]


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
def test_async_tools_get_bad_arguments_reported_too(api, transport) -> None:
    async def slow_book(booking: Booking, when: datetime.date, note: Optional[str] = None) -> str:
        CALLED.append(booking)
        return "booked"

    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, max_retries=0) as client:
        session = client.new_chat_session()
        reply = session.run(BAD.replace("book", "slow_book", 1), [slow_book], max_turns=2)
    assert CALLED == [] and isinstance(reply, str)
    tool_message = next(m for m in session.messages if m["role"] == "tool")
    assert "$.booking.nights" in tool_message["content"]


def test_a_plugin_can_answer_llmplug_function_tool(api, transport) -> None:
    from llmplug.core.plugins import PluginManager

    class Short:
        @llmplug.hookimpl(tryfirst=True)
        def llmplug_function_tool(self, provider, operation, tool):
            entry = tool.default_declaration(operation)
            entry["function"]["description"] = "short"
            return entry

    pm = PluginManager(entry_points=False)
    pm.register(Short(), name="short")
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, plugins=pm,
                     max_retries=0) as client:
        client.create_chat_completion([{"role": "user", "content": "hi"}], tools=[book])
    function = bodies(api)[-1]["tools"][0]["function"]
    assert function["description"] == "short" and "strict" not in function


def test_chat_session_send_returns_the_parsed_instance(client, api) -> None:
    person = FAMILIES["attrs"].Person
    session = client.new_chat_session()
    parsed = session.send("Tell me about Ann", response_format=person)
    assert isinstance(parsed, person)
    assert json.loads(session.messages[-1]["content"])["name"] == parsed.name  # the raw JSON is the history


def test_responses_session_send_returns_output_parsed(client, api) -> None:
    person = FAMILIES["dataclass"].Person
    session = client.new_responses_chat_session()
    response = session.send("Tell me about Ann", text_format=person)
    assert isinstance(response.output_parsed, person) and session.current_response_id == response.id
