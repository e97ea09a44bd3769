"""Every test that docs/reliability.md (its fault table) or docs/async.md names
exists, so what they say is tested cannot drift."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Each document that names tests, and at least how many it names.
DOCS = {"reliability.md": 41, "async.md": 8}


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def _references(doc: Path) -> list[tuple[str, str]]:
    """``(file, test)`` for each ``file.py::test``, and each ``::test`` after one in
    the same table row or paragraph."""
    found = []
    current = None
    for line in doc.read_text().splitlines():
        if not line.strip() or line.startswith("|"):
            current = None  # a new paragraph or table row
        for token in re.findall(r"`([^`]+)`", line):
            match = re.match(r"^(?P<file>[\w/]+\.py)?::(?P<test>test_\w+)", token)
            if match is None:
                continue
            current = match.group("file") or current
            assert current is not None, f"{token!r} names no file before it: {line[:120]}"
            found.append((current, match.group("test")))
    return found


def _locate(name: str, doc: str) -> Path:
    candidates = [ROOT / name, ROOT / "tests" / name, ROOT / "tests" / "reliability" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise AssertionError(f"docs/{doc} names {name}, which does not exist")


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_named_test_exists(doc: str) -> None:
    references = _references(ROOT / "docs" / doc)
    assert len(references) >= DOCS[doc]
    missing = [f"{file}::{test}" for file, test in references if test not in _tests_in(_locate(file, doc))]
    assert not missing, f"docs/{doc} names tests that do not exist: {missing}"
