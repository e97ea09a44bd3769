"""JSON Schema from Python types: :func:`json_schema` (``llmplug.json_schema``).

One provider-neutral schema per type, cached per type: attrs classes,
dataclasses, TypedDicts and pydantic models (named, under ``$defs``), Enums
and ``Literal`` (``enum``), ``list``/``set``/``tuple[T, ...]`` (``array``),
``dict[str, T]`` (``additionalProperties``), ``Optional``/unions (``anyOf``),
``str``/``int``/``float``/``bool``/``None``, ``datetime``/``date``/``time``/
``UUID`` (``format``), and ``Annotated[T, "description"]``. Class docstrings
and ``metadata={"description": ...}`` of fields become ``description``.
A type that cannot be expressed raises :class:`ConfigurationError` naming the
field. :func:`strict_schema` applies the strict-mode rules some providers
require (every object closed and fully required); providers call it from
their hooks. This module is loaded only when a type is passed.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import enum
import functools
import inspect
import re
import sys
import types
import typing
import uuid
from typing import Any

import attrs

from .errors import ConfigurationError

__all__ = ["function_schema", "json_schema", "schema_name", "strict_schema", "copy_json", "is_pydantic", "pydantic_adapter", "type_label", "UNIONS", "object_root", "STRICT_FORMATS"]

#: The ``format`` values strict mode accepts; others are left out of a strict schema.
STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
    uuid.UUID: {"type": "string", "format": "uuid"},
}
_SEQUENCES = {
    list, set, frozenset, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Set,
    collections.abc.MutableSet, collections.abc.Iterable, collections.abc.Collection,
}
_MAPPINGS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}
#: The origins of a union type: ``Union[A, B]`` and ``A | B``.
UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}
_REQUIRED_WRAPPERS = {"Required", "NotRequired", "ReadOnly"}


def json_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of type ``tp`` (a fresh copy: change it freely). Named
    classes nested in it are under ``$defs``; the root class is inlined."""
    return copy_json(cached_schema(tp))


def cached_schema(tp: Any) -> dict[str, Any]:
    """:func:`json_schema`, shared: the cached dict itself (do not change it)."""
    try:
        return _schema_cached(tp)
    except TypeError as exc:  # unhashable: an Annotated with a dict, say
        if "unhashable" not in str(exc):
            raise
        return _Builder().root(tp)


@functools.lru_cache(maxsize=512)
def _schema_cached(tp: Any) -> dict[str, Any]:
    return _Builder().root(tp)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists copied, the rest shared)."""
    if type(value) is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if type(value) is list:
        return [copy_json(item) for item in value]
    return value


def object_root(schema: dict[str, Any]) -> bool:
    """Whether ``schema``'s root is an object with named properties (strict mode needs one)."""
    return schema.get("type") == "object" and not schema.get("additionalProperties")


def type_label(tp: Any) -> str:
    """A short readable name of ``tp`` for messages (``Person``, ``list[Person]``)."""
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


def schema_name(tp: Any) -> str:
    """A name for ``tp`` as providers take one: ``[a-zA-Z0-9_-]{1,64}``
    (``Person``; ``list_Person`` for ``list[Person]``)."""
    name = re.sub(r"[^a-zA-Z0-9_-]+", "_", _short(tp)).strip("_") or "output"
    return name[:64]


def _short(tp: Any) -> str:
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin is None or not args:
        return getattr(tp, "__name__", None) or repr(tp).rsplit(".", 1)[-1]
    if origin is typing.Annotated:
        return _short(args[0])
    if origin is typing.Literal:
        return "Literal"
    if origin in UNIONS:
        return "_or_".join(_short(arg) for arg in args if arg is not type(None))
    return "_".join([getattr(origin, "__name__", "type"), *(_short(arg) for arg in args if arg is not Ellipsis)])


def is_pydantic(tp: Any) -> bool:
    """Whether ``tp`` is a pydantic model or pydantic dataclass (without importing pydantic)."""
    if "pydantic" not in sys.modules or not isinstance(tp, type):
        return False
    return hasattr(tp, "__pydantic_fields__") or hasattr(tp, "__pydantic_validator__")


def _user_doc(cls: type) -> str | None:
    """``cls``'s own docstring; ``None`` for the ones Python or a library writes."""
    doc = cls.__dict__.get("__doc__")
    if not doc or not isinstance(doc, str):
        return None
    doc = " ".join(doc.split())
    if doc.startswith(cls.__name__ + "(") or doc in ("An enumeration.", "Create a collection of name/value pairs."):
        return None
    return doc


@functools.lru_cache(maxsize=256)
def pydantic_adapter(tp: Any) -> Any:
    """pydantic's ``TypeAdapter`` for ``tp``, made once."""
    import pydantic

    return pydantic.TypeAdapter(tp)


class _Builder:
    """Builds one root schema; collects the named classes under ``$defs``."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self.names: dict[Any, str] = {}
        self.uses: dict[str, int] = {}
        self.path: list[str] = []

    def root(self, tp: Any) -> dict[str, Any]:
        self.path = [type_label(tp)]
        schema = self.schema(tp)
        ref = schema.get("$ref") if len(schema) == 1 else None
        if ref is not None:  # a class at the root: inline it, keep it in $defs only if it refers to itself
            name = ref.rsplit("/", 1)[-1]
            schema = dict(self.defs[name])
            if self.uses.get(name, 0) <= 1:
                del self.defs[name]
        if self.defs:
            schema["$defs"] = self.defs
        return schema

    # ------------------------------------------------------------ dispatch

    def fail(self, why: str) -> ConfigurationError:
        where = ".".join(self.path)
        return ConfigurationError(f"cannot build a JSON schema for {where}: {why}")

    def schema(self, tp: Any) -> dict[str, Any]:
        if tp is typing.Any or tp is object:
            return {}
        if tp is None:
            tp = type(None)
        if isinstance(tp, (str, typing.ForwardRef)):
            raise self.fail(f"the annotation {tp!r} is a name that could not be resolved; define the type at module level")
        if isinstance(tp, typing.TypeVar):
            raise self.fail(f"the type variable {tp} has no concrete type: generic classes are not supported, "
                            "declare the field with a concrete type")
        primitive = _PRIMITIVES.get(tp)
        if primitive is not None:
            return dict(primitive)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self._annotated(args)
        if origin is typing.Literal:
            return _enum_schema(list(args))
        if origin in UNIONS:
            return self._union(args)
        if origin is not None and getattr(origin, "_name", None) in _REQUIRED_WRAPPERS:
            return self.schema(args[0])
        if origin in _SEQUENCES or tp in _SEQUENCES:
            return {"type": "array", "items": self.schema(args[0]) if args else {}}
        if origin is tuple or tp is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                return {"type": "array", "items": self.schema(args[0]) if args else {}}
            raise self.fail(f"a fixed-length tuple ({type_label(tp)}) has no portable schema; use list[T] or a class")
        if origin in _MAPPINGS or tp in _MAPPINGS:
            return self._mapping(args)
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                schema = _enum_schema([member.value for member in tp])
                doc = _user_doc(tp)
                return {**schema, "description": doc} if doc else schema
            if is_pydantic(tp):
                return self._pydantic(tp)
            if attrs.has(tp) or dataclasses.is_dataclass(tp) or typing.is_typeddict(tp):
                return self._named(tp)
            if issubclass(tp, (bytes, bytearray)):
                raise self.fail("bytes have no JSON form; use str (base64, say)")
        raise self.fail(
            f"{type_label(tp)} is not a type llmplug can describe (use str, int, float, bool, an Enum, Literal, "
            "list, dict[str, T], Optional, an attrs class, a dataclass, a TypedDict or a pydantic model)"
        )

    # ------------------------------------------------------------ composites

    def _annotated(self, args: tuple[Any, ...]) -> dict[str, Any]:
        schema = self.schema(args[0])
        notes = [note for note in args[1:] if isinstance(note, str)]
        if notes:
            schema = {**schema, "description": " ".join(notes)}
        return schema

    def _union(self, args: tuple[Any, ...]) -> dict[str, Any]:
        arms: list[dict[str, Any]] = []
        for arg in args:
            schema = self.schema(arg)
            for arm in schema["anyOf"] if set(schema) == {"anyOf"} else [schema]:
                if arm not in arms:
                    arms.append(arm)
        return arms[0] if len(arms) == 1 else {"anyOf": arms}

    def _mapping(self, args: tuple[Any, ...]) -> dict[str, Any]:
        if args:
            key = args[0]
            if not (key is str or (isinstance(key, type) and issubclass(key, str))):
                raise self.fail(f"a dict's keys are strings in JSON, not {type_label(key)}")
        return {"type": "object", "additionalProperties": self.schema(args[1]) if args else {}}

    def _named(self, cls: type) -> dict[str, Any]:
        """A class with fields: defined once under ``$defs``, referred to by ``$ref``."""
        name = self.names.get(cls)
        if name is None:
            name = cls.__name__
            if name in self.defs or name in self.names.values():
                name = re.sub(r"[^a-zA-Z0-9_.-]+", "_", f"{cls.__module__}.{cls.__qualname__}")
            self.names[cls] = name
            self.defs[name] = {}  # reserved: a class that refers to itself finds it
            self.defs[name] = self._object(cls)
        self.uses[name] = self.uses.get(name, 0) + 1
        return {"$ref": f"#/$defs/{name}"}

    def _object(self, cls: type) -> dict[str, Any]:
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
            if attrs.has(cls):
                attrs.resolve_types(cls)  # cattrs structures by the fields' resolved types
        except NameError as exc:
            raise self.fail(f"the annotations of {cls.__qualname__} name something undefined ({exc}); "
                            "define the classes they use at module level") from None
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field, default_given, description in _fields(cls):
            self.path.append(field)
            try:
                schema = self.schema(hints.get(field, typing.Any))
            finally:
                self.path.pop()
            if description:
                schema = {**schema, "description": description}
            properties[field] = schema
            if not default_given:
                required.append(field)
        if typing.is_typeddict(cls):
            required = [name for name in properties if name in cls.__required_keys__]  # type: ignore[attr-defined]
        out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
        doc = _user_doc(cls)
        if doc:
            out["description"] = doc
        return out

    def _pydantic(self, model: type) -> dict[str, Any]:
        """A pydantic model's own schema (pydantic writes it), its classes merged into ``$defs``."""
        name = self.names.get(model)
        if name is None:
            try:
                schema = pydantic_adapter(model).json_schema(ref_template="#/$defs/{model}")
            except Exception as exc:  # pydantic's PydanticSchemaGenerationError, PydanticUserError...
                raise self.fail(f"pydantic cannot describe {model.__qualname__}: {exc}") from None
            schema = _drop_titles(schema)
            for key, value in (schema.pop("$defs", None) or {}).items():
                self.defs.setdefault(key, value)
            name = self.names[model] = model.__name__
            self.defs[name] = schema
        self.uses[name] = self.uses.get(name, 0) + 1
        return {"$ref": f"#/$defs/{name}"}


def function_schema(fn: Any, name: str) -> tuple[dict[str, Any], dict[str, tuple[Any, bool]]]:
    """The JSON schema of ``fn``'s parameters (an object, one property each), and
    ``{parameter: (type, has_default)}``. An unannotated parameter with a default
    has its default's type; one without is of any type."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # NameError for an undefined name in a string annotation
        raise ConfigurationError(f"tool {name!r}: its type hints cannot be read ({exc})") from None
    builder = _Builder()
    properties: dict[str, Any] = {}
    required: list[str] = []
    table: dict[str, tuple[Any, bool]] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = hints.get(param.name, typing.Any)
        if param.name not in hints and param.default not in (param.empty, None):
            hint = type(param.default)
        has_default = param.default is not param.empty
        builder.path = [name, param.name]
        properties[param.name] = builder.schema(hint)
        table[param.name] = (hint, has_default)
        if not has_default:
            required.append(param.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if builder.defs:
        schema["$defs"] = builder.defs
    return schema, table


def _fields(cls: type) -> list[tuple[str, bool, str | None]]:
    """``(name, has_default, description)`` of each field ``cls`` is built from."""
    if attrs.has(cls):
        return [
            (a.name, a.default is not attrs.NOTHING, a.metadata.get("description"))
            for a in attrs.fields(cls)
            if a.init
        ]
    if dataclasses.is_dataclass(cls):
        return [
            (f.name, f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
             f.metadata.get("description"))
            for f in dataclasses.fields(cls)
            if f.init
        ]
    return [(name, False, None) for name in typing.get_type_hints(cls)]  # a TypedDict


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    kinds = {_JSON_TYPES.get(type(value)) for value in values}
    if None in kinds:
        raise ConfigurationError(f"enum values must be strings, numbers, booleans or None, not {values!r:.100}")
    schema: dict[str, Any] = {"enum": values}
    if len(kinds) == 1:
        schema = {"type": kinds.pop(), **schema}
    return schema


def _drop_titles(node: Any) -> Any:
    """``node`` without the ``title`` keywords pydantic writes on every schema
    (a property named ``title`` is kept)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key in ("properties", "$defs") and isinstance(value, dict):
                out[key] = {name: _drop_titles(sub) for name, sub in value.items()}
            else:
                out[key] = _drop_titles(value)
        return out
    if isinstance(node, list):
        return [_drop_titles(item) for item in node]
    return node


# ---------------------------------------------------------------- strict mode


def strict_schema(schema: dict[str, Any], *, name: str = "the schema", inline_refs: bool = False) -> dict[str, Any]:
    """``schema`` under the strict-mode rules (OpenAI's ``strict: true``): every
    object gets ``additionalProperties: false`` and every property in
    ``required``; a ``$ref`` with sibling keywords is inlined (every ``$ref``
    when ``inline_refs``: for servers that take no ``$defs``); ``oneOf`` becomes
    ``anyOf``; ``default`` and unsupported ``format`` values are left out. A
    free-form dict or an untyped value raises :class:`ConfigurationError`
    naming where it is. A new dict: ``schema`` is not changed."""
    return _Strict(schema, name, inline_refs).root()


class _Strict:
    def __init__(self, schema: dict[str, Any], name: str, inline_refs: bool) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs") or {}
        self.name = name
        self.inline_refs = inline_refs
        self.inlining: list[str] = []

    def root(self) -> dict[str, Any]:
        out = self.node({key: value for key, value in self.schema.items() if key != "$defs"}, [self.name])
        if self.defs and not self.inline_refs:
            out["$defs"] = {key: self.node(value, [key]) for key, value in self.defs.items()}
        return out

    def fail(self, path: list[str], why: str) -> ConfigurationError:
        return ConfigurationError(f"{'.'.join(path)}: {why}")

    def target(self, ref: str, path: list[str]) -> dict[str, Any]:
        prefix = "#/$defs/"
        if ref == "#":
            if self.inline_refs:
                raise self.fail(path, "a recursive type cannot be sent without $defs; this provider takes none")
            return self.schema
        if not ref.startswith(prefix) or ref[len(prefix):] not in self.defs:
            raise self.fail(path, f"the reference {ref!r} points to nothing in $defs")
        return self.defs[ref[len(prefix):]]

    def node(self, node: Any, path: list[str]) -> Any:
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and (len(node) > 1 or self.inline_refs):
            key = ref.rsplit("/", 1)[-1]
            if key in self.inlining:
                if self.inline_refs:
                    raise self.fail(path, f"the recursive type {key} cannot be sent without $defs; this provider takes none")
                return self.node({"$ref": ref}, path)  # recursion: keep the bare reference
            self.inlining.append(key)
            try:
                merged = {**self.target(ref, path), **{k: v for k, v in node.items() if k != "$ref"}}
                merged.pop("$defs", None)
                return self.node(merged, path)
            finally:
                self.inlining.pop()
        if not node:
            raise self.fail(path, "a value of any type (Any, or no annotation) cannot be sent in strict mode; give it a type")
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "default" or (key == "format" and value not in STRICT_FORMATS):
                continue
            if key == "oneOf":
                key = "anyOf"
            if key in ("anyOf", "allOf"):
                out[key] = [self.node(arm, path) for arm in value]
            elif key == "items":
                out[key] = self.node(value, [*path, "[]"])
            elif key == "properties":
                out[key] = {prop: self.node(sub, [*path, prop]) for prop, sub in value.items()}
            elif key == "additionalProperties":
                if value not in (False, None):
                    raise self.fail(path, "a free-form dict (dict[str, X]) cannot be sent in strict mode; "
                                          "use a class with named fields, or a list of key/value objects")
            else:
                out[key] = value
        if len(out.get("allOf") or ()) == 1 and len(out) == 1:
            return out["allOf"][0]
        if out.get("type") == "object" or "properties" in out:
            out.setdefault("properties", {})
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out
