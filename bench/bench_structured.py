"""Structured outputs, measured in one process (rows 13 and 14 of ``bench/run.py``).

- ``schema``: the JSON schema of a 50-field nested attrs class, as a call needs
  it (``OutputFormat(T).strict_schema()``): the first call, then cached calls;
  also ``llmplug.json_schema(T)`` (which hands out a copy).
- ``parse``: a 100 KB structured reply (a catalogue of records with nested
  objects, enums, optionals and lists) into attrs instances
  (``OutputFormat(T).parse``: ``json.loads`` + cattrs), against pydantic's
  ``model_validate_json`` into models of the same shape.

``python bench/bench_structured.py`` prints a table; ``--measure NAME`` prints
one number (what ``bench/run.py`` samples): ``schema-first`` and
``schema-cached`` in ms per call, ``parse-llmplug`` and ``parse-pydantic`` in
replies per second.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import time
from typing import Any, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import attrs  # noqa: E402


class Status(enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"


def _nested_classes() -> Any:
    """A root class of 50 fields: scalars, optionals, lists, and 10 fields of 5 nested classes."""
    inner = [
        attrs.make_class(f"Part{i}", {
            "label": attrs.field(type=str), "count": attrs.field(type=int), "weight": attrs.field(type=float),
            "status": attrs.field(type=Status), "note": attrs.field(type=Optional[str], default=None),
        })
        for i in range(5)
    ]
    fields: dict[str, Any] = {}
    kinds = [str, int, float, bool, Optional[str], list[int], Status]
    for i in range(40):
        fields[f"f{i:02d}"] = attrs.field(type=kinds[i % len(kinds)])
    for i, part in enumerate(inner):
        fields[f"part{i}"] = attrs.field(type=part)
        fields[f"parts{i}"] = attrs.field(type=list[part])
    return attrs.make_class("Wide", fields)


@attrs.define
class Dimensions:
    width: float
    height: float
    unit: str


@attrs.define
class Record:
    id: int
    name: str
    status: Status
    tags: list[str]
    price: float
    dimensions: Dimensions
    note: Optional[str] = None


@attrs.define
class Catalog:
    title: str
    records: list[Record]


def _reply(size: int = 100_000) -> str:
    records = []
    i = 0
    while True:
        records.append({
            "id": i, "name": f"Record number {i}", "status": "active" if i % 3 else "retired",
            "tags": ["alpha", "beta", f"t{i % 7}"], "price": i * 1.25,
            "dimensions": {"width": 1.5 + i, "height": 2.0, "unit": "cm"}, "note": None if i % 2 else "fragile",
        })
        text = json.dumps({"title": "Catalog", "records": records})
        if len(text) >= size:
            return text
        i += 1


def _pydantic_catalog() -> Any:
    import pydantic

    class PDimensions(pydantic.BaseModel):
        width: float
        height: float
        unit: str

    class PRecord(pydantic.BaseModel):
        id: int
        name: str
        status: Status
        tags: list[str]
        price: float
        dimensions: PDimensions
        note: Optional[str] = None

    class PCatalog(pydantic.BaseModel):
        title: str
        records: list[PRecord]

    return PCatalog


def _per_call(fn: Any, seconds: float = 1.0) -> float:
    """Seconds per call of ``fn``, the best of 5 timed batches."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.1:
        fn()
        n += 1
    batch = max(1, int(n * seconds / 0.5))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, (time.perf_counter() - start) / batch)
    return best


def measure(name: str) -> float:
    from llmplug.core.structured import OutputFormat

    if name.startswith("schema"):
        wide = _nested_classes()
        start = time.perf_counter()
        OutputFormat(wide).strict_schema()
        first = (time.perf_counter() - start) * 1e3
        if name == "schema-first":
            return first
        if name == "schema-copy":
            import llmplug

            return _per_call(lambda: llmplug.json_schema(wide)) * 1e3
        return _per_call(lambda: OutputFormat(wide).strict_schema()) * 1e3
    text = _reply()
    if name == "parse-llmplug":
        output = OutputFormat(Catalog)
        assert len(output.parse(text).records) > 100
        return 1 / _per_call(lambda: output.parse(text))
    if name == "parse-pydantic":
        model = _pydantic_catalog()
        assert len(model.model_validate_json(text).records) > 100
        return 1 / _per_call(lambda: model.model_validate_json(text))
    raise SystemExit(f"no measure {name!r}")


MEASURES = ("schema-first", "schema-cached", "schema-copy", "parse-llmplug", "parse-pydantic")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(measure(sys.argv[2]))
        return
    import subprocess

    got = {}
    for name in MEASURES:  # each in a fresh process: the first call is a first call
        out = subprocess.run([sys.executable, __file__, "--measure", name], capture_output=True, text=True)
        got[name] = float(out.stdout) if out.returncode == 0 else None
        if out.returncode:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    print(f"reply size: {len(_reply()):,} bytes")
    for name, value in got.items():
        unit = "ms/call" if name.startswith("schema") else "replies/s"
        print(f"{name:<16} {'-' if value is None else f'{value:,.4g}'} {unit}")
    if got["parse-llmplug"] and got["parse-pydantic"]:
        print(f"parse ratio llmplug/pydantic: {got['parse-llmplug'] / got['parse-pydantic']:.2f}")


if __name__ == "__main__":
    main()
