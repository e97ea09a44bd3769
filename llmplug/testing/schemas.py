"""JSON Schema in the fakes: the value a fake model answers, and OpenAI's strict-mode rules.

Both fakes answer a structured-output request with :func:`schema_instance`, a
deterministic value of the request's schema built around the reply text:

- strings are the reply text (``"You said: ..."``), or an example of their
  ``format`` (:data:`FORMAT_EXAMPLES`: ``date-time`` is
  ``"2026-01-01T00:00:00Z"``, ``date`` ``"2026-01-01"``, ``uuid``...);
- integers and numbers are the reply's word count (kept within
  ``minimum``/``maximum``); booleans are true; ``null`` is null;
- ``enum`` gives its first value, ``const`` its value;
- objects have every property (in ``propertyOrdering`` when given);
- arrays have :data:`ARRAY_LENGTH` items, or ``minItems`` if more (at most
  ``maxItems``), after any ``prefixItems``;
- ``anyOf``/``oneOf`` take their first branch that is not ``{"type": "null"}``,
  ``allOf`` merges its branches, a type list (``["string", "null"]``) its first
  type that is not ``"null"``; types may be upper case (Gemini's ``"STRING"``);
- ``$ref`` follows local JSON pointers (``#/$defs/Name``,
  ``#/definitions/Name``, ``#``); a ref already being expanded
  :data:`MAX_REF_DEPTH` times ends the recursion: null where null is allowed,
  else ``[]``/``{}`` as the target's type fits (arrays of it are left empty).

:func:`check_strict` checks a schema against OpenAI's rules for
``strict: true`` (response formats and function parameters) and raises
:class:`StrictSchemaError`, whose :meth:`~StrictSchemaError.message` words
the error as OpenAI does.
"""

from __future__ import annotations

from typing import Any

#: What a string of each ``format`` is.
FORMAT_EXAMPLES: dict[str, str] = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri": "https://example.com/",
}

#: The formats OpenAI's strict mode accepts.
STRICT_FORMATS = ("date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid")

#: Arrays have this many items unless ``minItems``/``maxItems`` say otherwise.
ARRAY_LENGTH = 2

#: How many times one ``$ref`` is expanded inside itself before the recursion stops.
MAX_REF_DEPTH = 3


def schema_instance(schema: Any, text: str) -> Any:
    """A value of JSON schema ``schema`` whose strings are ``text`` (see the module doc)."""
    return _Instance(schema, text).value(schema)


def resolve_ref(root: Any, ref: str) -> Any:
    """The schema a local ``$ref`` (``#`` or ``#/json/pointer``) points at in ``root``, or None."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _types(schema: dict[str, Any]) -> list[str]:
    """The schema's ``type`` as a list of lower-case names (empty when not given)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    return [str(k).lower() for k in kinds]


def _kind(schema: dict[str, Any]) -> str | None:
    """The schema's main type: the first that is not ``"null"`` (``"null"`` if
    only that), else what ``properties``/``items`` imply, else None."""
    kinds = _types(schema)
    if kinds:
        return next((k for k in kinds if k != "null"), "null")
    if "properties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and _types(schema) == ["null"]


def _nullable(schema: dict[str, Any]) -> bool:
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    return "null" in _types(schema) or schema.get("nullable") is True or any(_is_null(b) for b in branches)


def _number(schema: dict[str, Any], count: int) -> int:
    """``count`` moved within the schema's bounds."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), (int, float)) and not isinstance(schema["exclusiveMinimum"], bool):
        low = schema["exclusiveMinimum"] + 1
    if isinstance(schema.get("exclusiveMaximum"), (int, float)) and not isinstance(schema["exclusiveMaximum"], bool):
        high = schema["exclusiveMaximum"] - 1
    if isinstance(low, (int, float)) and count < low:
        count = int(-(-low // 1))  # the smallest integer >= low
    if isinstance(high, (int, float)) and count > high:
        count = int(high // 1)
    return count


class _Instance:
    """Builds :func:`schema_instance`'s value, following refs within ``root``."""

    def __init__(self, root: Any, text: str) -> None:
        self.root = root
        self.text = text
        self.expanding: list[str] = []  # the refs being expanded, outermost first

    def too_deep(self, schema: Any) -> bool:
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        return isinstance(ref, str) and self.expanding.count(ref) >= MAX_REF_DEPTH

    def value(self, schema: Any) -> Any:
        if not isinstance(schema, dict):
            return self.text
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.follow(ref, schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        if isinstance(schema.get("allOf"), list):
            return self.value(self.merged(schema))
        branches = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(branches, list) and branches:
            options = [b for b in branches if not _is_null(b)]
            if not options or (len(options) < len(branches) and self.too_deep(options[0])):
                return None
            return self.value(options[0])
        kind = _kind(schema)
        if kind == "null":
            return None
        if kind == "object":
            props = schema.get("properties") or {}
            order = [n for n in schema.get("propertyOrdering") or [] if n in props]
            names = order + [n for n in props if n not in order]
            return {name: self.value(props[name]) for name in names}
        if kind == "array":
            return self.array(schema)
        if kind in ("integer", "number"):
            return _number(schema, len(self.text.split()))
        if kind == "boolean":
            return True
        return FORMAT_EXAMPLES.get(str(schema.get("format")), self.text)

    def follow(self, ref: str, schema: dict[str, Any]) -> Any:
        target = resolve_ref(self.root, ref)
        if not isinstance(target, dict):
            return self.text
        if self.expanding.count(ref) >= MAX_REF_DEPTH:
            return self.stub(target)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        self.expanding.append(ref)
        try:
            return self.value({**target, **siblings} if siblings else target)
        finally:
            self.expanding.pop()

    def stub(self, schema: dict[str, Any]) -> Any:
        """Where recursion stops: null if allowed, else an empty array or object."""
        if _nullable(schema):
            return None
        kind = _kind(schema)
        return [] if kind == "array" else {} if kind == "object" else None

    def merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` with its ``allOf`` branches (refs followed) merged in."""
        out = {k: v for k, v in schema.items() if k != "allOf"}
        properties = dict(out.get("properties") or {})
        required = list(out.get("required") or [])
        for branch in schema["allOf"]:
            if isinstance(branch, dict) and isinstance(branch.get("$ref"), str):
                branch = resolve_ref(self.root, branch["$ref"])
            if not isinstance(branch, dict):
                continue
            if isinstance(branch.get("allOf"), list):
                branch = self.merged(branch)
            properties.update(branch.get("properties") or {})
            required += [r for r in branch.get("required") or [] if r not in required]
            for key, value in branch.items():
                out.setdefault(key, value)
        if properties:
            out["properties"] = properties
        if required:
            out["required"] = required
        return out

    def array(self, schema: dict[str, Any]) -> list[Any]:
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items")
        low = int(schema.get("minItems") or 0)
        high = schema.get("maxItems")
        if prefix and not isinstance(items, dict):
            count = max(low, len(prefix))  # a tuple
        elif self.too_deep(items):
            count = low  # recursion ends: as few items as allowed
        else:
            count = max(low, ARRAY_LENGTH)
        if high is not None:
            count = min(count, int(high))
        return [self.value(prefix[k] if k < len(prefix) else items) for k in range(count)]


class StrictSchemaError(ValueError):
    """A schema that breaks a rule of OpenAI's strict mode.

    ``context`` is where, as OpenAI shows it (``("properties", "address")``;
    indices are strings), or None for the root's type.
    """

    def __init__(self, problem: str, context: tuple[str, ...] | None = None) -> None:
        super().__init__(problem)
        self.problem, self.context = problem, context

    def message(self, subject: str) -> str:
        """The error message, ``subject`` being e.g. ``"response_format 'Person'"`` or ``"function 'f'"``."""
        where = "" if self.context is None else f"In context={self.context!r}, "
        return f"Invalid schema for {subject}: {where}{self.problem}"


_REQUIRED = "'required' is required to be supplied and to be an array including every key in properties."


def check_strict(schema: Any) -> None:
    """Raise :class:`StrictSchemaError` for the first rule of OpenAI's strict mode
    that ``schema`` breaks: the root must be ``type: "object"`` (an ``anyOf`` root
    is not); every object needs ``additionalProperties: false`` (so a free-form
    dict is refused) and ``required`` listing exactly its properties; a ``$ref``
    takes no sibling keys and must resolve; only :data:`STRICT_FORMATS`."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind != "object":
        raise StrictSchemaError(f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{kind}\"'.")
    _check_node(schema, schema, ())


def _check_node(schema: Any, root: dict[str, Any], context: tuple[str, ...]) -> None:
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if ref is not None:
        extra = sorted(k for k in schema if k != "$ref")
        if extra:
            keys = ", ".join(repr(k) for k in extra)
            raise StrictSchemaError(f"$ref cannot have keywords {{{keys}}}.", context)
        if not isinstance(ref, str) or resolve_ref(root, ref) is None:
            raise StrictSchemaError(f"Reference '{ref}' could not be resolved.", context)
        return  # the target is checked where it is defined
    if _kind(schema) == "object":
        if schema.get("additionalProperties") is not False:
            raise StrictSchemaError("'additionalProperties' is required to be supplied and to be false.", context)
        properties = schema.get("properties") or {}
        required = schema.get("required")
        listed = required if isinstance(required, list) else []
        missing = [name for name in properties if name not in listed]
        if missing:
            raise StrictSchemaError(f"{_REQUIRED} Missing '{missing[0]}'.", context)
        extra = [name for name in listed if name not in properties]
        if extra:
            raise StrictSchemaError(f"{_REQUIRED} Extra required key '{extra[0]}' supplied.", context)
    fmt = schema.get("format")
    if fmt is not None and fmt not in STRICT_FORMATS:
        raise StrictSchemaError(f"'{fmt}' is not a valid format.", context)
    for name, sub in (schema.get("properties") or {}).items():
        _check_node(sub, root, context + ("properties", name))
    if isinstance(schema.get("items"), dict):
        _check_node(schema["items"], root, context + ("items",))
    for key in ("prefixItems", "anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            _check_node(sub, root, context + (key, str(i)))
    for key in ("$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            _check_node(sub, root, context + (key, name))
