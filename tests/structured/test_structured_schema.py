"""``llmplug.json_schema``: types to JSON Schema, strict mode, structuring back."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import sys
import uuid
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

import attrs
import pytest

import llmplug
from llmplug.core.schema import cached_schema, strict_schema
from llmplug.core.structured import OutputFormat
from llmplug.core.typed import NotOfType, structure_as
from tests.json_checks import objects_in
from tests.structured_types import FAMILIES, FAMILY_NAMES, PERSON_JSON, Kind


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_a_nested_class_becomes_one_schema_with_defs(family: str) -> None:
    f = FAMILIES[family]
    schema = llmplug.json_schema(f.Person)
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"name", "age", "address", "pets", "mood", "nickname"}
    assert schema["properties"]["age"] == {"type": "integer"}
    assert schema["properties"]["mood"]["enum"] == ["calm", "busy"]
    defs = schema["$defs"]
    address = schema["properties"]["address"]["$ref"].rsplit("/", 1)[-1]
    assert defs[address]["properties"]["street"] == {"type": "string"}
    pets = schema["properties"]["pets"]
    assert pets["type"] == "array"
    pet = defs[pets["items"]["$ref"].rsplit("/", 1)[-1]]
    kind = pet["properties"]["kind"]
    kind = defs[kind["$ref"].rsplit("/", 1)[-1]] if "$ref" in kind else kind
    assert kind["enum"] == ["cat", "dog"]
    nickname = schema["properties"]["nickname"]
    assert {"type": "null"} in nickname["anyOf"] and {"type": "string"} in nickname["anyOf"]
    if family != "typeddict":  # docstrings and field descriptions
        assert schema["description"] == "A person."
        assert defs[address]["properties"]["zip"]["description"] == "the postcode"
        assert "nickname" not in schema["required"]  # it has a default
    json.dumps(schema)  # plain JSON


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_strict_mode_closes_and_requires_every_object(family: str) -> None:
    strict = OutputFormat(FAMILIES[family].Person).strict_schema()
    objects = objects_in(strict)
    assert len(objects) >= 3  # the person, its address, a pet
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert "default" not in json.dumps(strict)


def test_a_root_that_is_no_object_is_wrapped_for_strict_mode_and_unwrapped_on_parse() -> None:
    output = OutputFormat(list[FAMILIES["attrs"].Pet])
    assert output.envelope is None
    strict = output.strict_schema()
    assert output.envelope == "value"
    assert strict["required"] == ["value"] and strict["properties"]["value"]["type"] == "array"
    assert "$defs" in strict
    pets = output.parse(json.dumps({"value": PERSON_JSON["pets"]}))
    assert [p.name for p in pets] == ["Tom", "Rex"] and pets[0].kind is Kind.CAT


def test_enums_literals_unions_and_scalars() -> None:
    assert llmplug.json_schema(Kind) == {"type": "string", "enum": ["cat", "dog"], "description": "What kind of pet."}
    assert llmplug.json_schema(Literal[1, 2]) == {"type": "integer", "enum": [1, 2]}
    assert llmplug.json_schema(Literal["a", 1]) == {"enum": ["a", 1]}
    assert llmplug.json_schema(Union[int, str]) == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert llmplug.json_schema(Optional[Union[int, str]])["anyOf"][-1] == {"type": "null"}
    assert llmplug.json_schema(int | None) == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert llmplug.json_schema(datetime.datetime) == {"type": "string", "format": "date-time"}
    assert llmplug.json_schema(uuid.UUID) == {"type": "string", "format": "uuid"}
    assert llmplug.json_schema(tuple[float, ...]) == {"type": "array", "items": {"type": "number"}}
    assert llmplug.json_schema(Annotated[str, "the city"]) == {"type": "string", "description": "the city"}
    assert llmplug.json_schema(dict[str, int]) == {"type": "object", "additionalProperties": {"type": "integer"}}


@attrs.define
class Node:
    value: int
    children: list[Node] = attrs.Factory(list)


def test_a_recursive_class_refers_to_itself_and_structures() -> None:
    schema = llmplug.json_schema(Node)
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert schema["$defs"]["Node"]["properties"]["value"] == {"type": "integer"}
    strict = strict_schema(schema)
    assert strict["$defs"]["Node"]["additionalProperties"] is False
    tree = structure_as({"value": 1, "children": [{"value": 2, "children": []}]}, Node)
    assert tree == Node(1, [Node(2)])
    with pytest.raises(llmplug.ConfigurationError, match="recursive"):
        strict_schema(schema, inline_refs=True)


@attrs.define
class WithBytes:
    blob: bytes


@dataclasses.dataclass
class WithFreeDict:
    labels: dict[str, str]


@attrs.define
class WithTuple:
    point: tuple[int, int]


def test_what_cannot_be_expressed_is_refused_naming_the_field() -> None:
    with pytest.raises(llmplug.ConfigurationError, match=r"WithBytes\.blob: bytes"):
        llmplug.json_schema(WithBytes)
    with pytest.raises(llmplug.ConfigurationError, match=r"WithTuple\.point: a fixed-length tuple"):
        llmplug.json_schema(WithTuple)
    with pytest.raises(llmplug.ConfigurationError, match=r"is not a type llmplug can describe"):
        llmplug.json_schema(set[complex])
    free = llmplug.json_schema(WithFreeDict)  # fine as plain JSON Schema...
    assert free["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    with pytest.raises(llmplug.ConfigurationError, match=r"WithFreeDict\.labels: a free-form dict"):
        OutputFormat(WithFreeDict).strict_schema()  # ...but not in strict mode
    with pytest.raises(llmplug.ConfigurationError, match=r"Any"):
        OutputFormat(list[Any]).strict_schema()


def test_the_schema_is_cached_per_type_and_json_schema_hands_out_copies() -> None:
    person = FAMILIES["attrs"].Person
    assert cached_schema(person) is cached_schema(person)
    mine = llmplug.json_schema(person)
    mine["properties"].clear()
    assert llmplug.json_schema(person)["properties"]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_structuring_builds_nested_instances(family: str) -> None:
    f = FAMILIES[family]
    person = structure_as(json.loads(json.dumps(PERSON_JSON)), f.Person)
    fields = f.attrs_of(person)
    assert fields["name"] == "Ann" and fields["age"] == 41
    address = fields["address"]
    if family == "typeddict":
        assert address == {"street": "1 Main St", "zip": None}
    else:
        assert isinstance(address, f.Address)
    pets = fields["pets"]
    assert [f.attrs_of(p)["kind"] for p in pets] == [Kind.CAT, Kind.DOG]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_json_that_does_not_fit_lists_every_place(family: str) -> None:
    bad = {**PERSON_JSON, "age": "forty", "pets": [{"name": "Tom", "kind": "cow"}]}
    with pytest.raises(NotOfType) as caught:
        structure_as(bad, FAMILIES[family].Person)
    where = " | ".join(caught.value.errors)
    assert "$.age" in where
    assert "$.pets[0].kind" in where or "$.pets.0.kind" in where


def test_a_value_that_is_no_object_where_a_class_goes_is_one_error() -> None:
    with pytest.raises(NotOfType) as caught:
        structure_as({**PERSON_JSON, "address": "1 Main St"}, FAMILIES["attrs"].Person)
    assert caught.value.errors == ["expected an object (AttrsAddress), got a string @ $.address"]


def test_scalars_are_not_coerced() -> None:
    for value, tp in (("3", int), (3, str), (1, bool), (True, int), (2.5, int), ("x", float)):
        with pytest.raises(NotOfType):
            structure_as(value, tp)
    assert structure_as(3, float) == 3.0 and structure_as(2.0, int) == 2
    assert structure_as("2026-01-02T03:04:05Z", datetime.datetime).tzinfo is not None
    assert structure_as("b", Union[int, str]) == "b" and structure_as(None, Optional[int]) is None


class Movie(TypedDict):
    title: str
    year: int


def test_a_bare_enum_value_or_fenced_json_is_still_taken() -> None:
    assert OutputFormat(Kind).parse("dog\n") is Kind.DOG
    assert OutputFormat(Movie).parse('```json\n{"title": "Up", "year": 2009}\n```') == {"title": "Up", "year": 2009}
    with pytest.raises(ValueError):
        OutputFormat(Movie).parse("Up, 2009")


def test_import_llmplug_loads_neither_pydantic_nor_the_schema_code() -> None:
    code = (
        "import sys, llmplug; llmplug.new('openai', api_key='sk-x', base_url='http://127.0.0.1:9/v1');"
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'llmplug.core.schema', "
        "'llmplug.core.structured', 'llmplug.core.typed', 'llmplug.core.partial_json'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
