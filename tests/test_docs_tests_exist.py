"""Every test that docs/reliability.md names exists, so its fault table cannot drift."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def _references() -> list[tuple[str, str]]:
    """``(file, test)`` for each ``file.py::test``, and each ``::test`` after one in
    the same table row or paragraph."""
    found = []
    current = None
    for line in DOC.read_text().splitlines():
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


def _locate(name: str) -> Path:
    candidates = [ROOT / name, ROOT / "tests" / name, ROOT / "tests" / "reliability" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise AssertionError(f"docs/reliability.md names {name}, which does not exist")


def test_every_named_test_exists() -> None:
    references = _references()
    assert len(references) > 40
    missing = [f"{file}::{test}" for file, test in references if test not in _tests_in(_locate(file))]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
