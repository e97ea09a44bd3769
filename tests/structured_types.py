"""The same nested shapes declared as attrs classes, dataclasses, TypedDicts and
(when pydantic is installed) pydantic models, for the structured-output tests.

Each family is a ``Family(name, Person, Address, Pet)``: ``Person`` has a nested
``Address``, a list of ``Pet``, an Enum, a Literal and an optional field.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Literal, NamedTuple, Optional, TypedDict

import attrs


class Kind(enum.Enum):
    """What kind of pet."""

    CAT = "cat"
    DOG = "dog"


class Family(NamedTuple):
    name: str
    Person: Any
    Address: Any
    Pet: Any

    def attrs_of(self, value: Any) -> dict[str, Any]:
        """An instance's fields as a dict (TypedDicts already are dicts)."""
        if isinstance(value, dict):
            return value
        if attrs.has(type(value)):
            return attrs.asdict(value, recurse=False)
        if dataclasses.is_dataclass(value):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return dict(value)  # a pydantic model iterates as (name, value) pairs


# ---------------------------------------------------------------- attrs


@attrs.define
class AttrsAddress:
    """Where someone lives."""

    street: str
    zip: Optional[str] = attrs.field(default=None, metadata={"description": "the postcode"})


@attrs.define
class AttrsPet:
    name: str
    kind: Kind


@attrs.define
class AttrsPerson:
    """A person."""

    name: str
    age: int
    address: AttrsAddress
    pets: list[AttrsPet]
    mood: Literal["calm", "busy"]
    nickname: Optional[str] = None


# ---------------------------------------------------------------- dataclasses


@dataclasses.dataclass
class DataAddress:
    """Where someone lives."""

    street: str
    zip: Optional[str] = dataclasses.field(default=None, metadata={"description": "the postcode"})


@dataclasses.dataclass
class DataPet:
    name: str
    kind: Kind


@dataclasses.dataclass
class DataPerson:
    """A person."""

    name: str
    age: int
    address: DataAddress
    pets: list[DataPet]
    mood: Literal["calm", "busy"]
    nickname: Optional[str] = None


# ---------------------------------------------------------------- TypedDicts


class DictAddress(TypedDict):
    street: str
    zip: Optional[str]


class DictPet(TypedDict):
    name: str
    kind: Kind


class DictPerson(TypedDict):
    name: str
    age: int
    address: DictAddress
    pets: list[DictPet]
    mood: Literal["calm", "busy"]
    nickname: Optional[str]


FAMILIES = {
    "attrs": Family("attrs", AttrsPerson, AttrsAddress, AttrsPet),
    "dataclass": Family("dataclass", DataPerson, DataAddress, DataPet),
    "typeddict": Family("typeddict", DictPerson, DictAddress, DictPet),
}

try:
    import pydantic
except ImportError:  # the suite runs without pydantic too: those cases are not collected
    pydantic = None  # type: ignore[assignment]

if pydantic is not None:

    class PydAddress(pydantic.BaseModel):
        """Where someone lives."""

        street: str
        zip: Optional[str] = pydantic.Field(default=None, description="the postcode")

    class PydPet(pydantic.BaseModel):
        name: str
        kind: Kind

    class PydPerson(pydantic.BaseModel):
        """A person."""

        name: str
        age: int
        address: PydAddress
        pets: list[PydPet]
        mood: Literal["calm", "busy"]
        nickname: Optional[str] = None

    @pydantic.dataclasses.dataclass
    class PydDataPet:
        name: str
        kind: Kind

    FAMILIES["pydantic"] = Family("pydantic", PydPerson, PydAddress, PydPet)

#: The family names, pydantic's only when it is installed.
FAMILY_NAMES = tuple(FAMILIES)

PERSON_JSON = {
    "name": "Ann", "age": 41, "address": {"street": "1 Main St", "zip": None},
    "pets": [{"name": "Tom", "kind": "cat"}, {"name": "Rex", "kind": "dog"}], "mood": "calm", "nickname": None,
}
