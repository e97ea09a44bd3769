"""The examples of README.md, docs/structured.md, docs/batch.md and docs/testing.md run, so they cannot drift
from the code."""

from __future__ import annotations

import importlib.util
import pathlib
import re
import subprocess
import sys
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
STRUCTURED = ROOT / "docs" / "structured.md"
BATCH = ROOT / "docs" / "batch.md"
TESTING = ROOT / "docs" / "testing.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
#: docs/structured.md's blocks, each from a line opening with ```python to the next line that is ```.
STRUCTURED_BLOCKS = re.findall(r"^```python\n(.*?)^```$", STRUCTURED.read_text(encoding="utf-8"), flags=re.S | re.M)
#: docs/batch.md's blocks, read the same way.
BATCH_BLOCKS = re.findall(r"^```python\n(.*?)^```$", BATCH.read_text(encoding="utf-8"), flags=re.S | re.M)
#: docs/testing.md's blocks, read the same way (its pytest files are ```text: they need pytest and a package).
TESTING_BLOCKS = re.findall(r"^```python\n(.*?)^```$", TESTING.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


def run_example(source: str, where: str, name: str) -> None:
    """Run ``source`` as a user's module would run: not under this file's
    ``from __future__ import annotations`` (``dont_inherit``), and as a module in
    ``sys.modules``, where dataclasses and ``typing.get_type_hints`` look up names."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(source, where, "exec", dont_inherit=True), module.__dict__)
    finally:
        del sys.modules[name]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example(index, capsys):
    run_example(BLOCKS[index], f"README.md[python block {index}]", "__readme__")


def test_structured_doc_has_examples():
    assert len(STRUCTURED_BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(STRUCTURED_BLOCKS)))
def test_structured_doc_python_example(index, capsys):
    source = STRUCTURED_BLOCKS[index]
    if re.search(r"^\s*import pydantic\b", source, flags=re.M) and importlib.util.find_spec("pydantic") is None:
        pytest.skip("this example uses pydantic, which is not installed")
    run_example(source, f"docs/structured.md[python block {index}]", "__structured_doc__")


def test_batch_doc_has_examples():
    assert len(BATCH_BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BATCH_BLOCKS)))
def test_batch_doc_python_example(index, capsys):
    run_example(BATCH_BLOCKS[index], f"docs/batch.md[python block {index}]", "__batch_doc__")


def test_testing_doc_has_examples():
    assert len(TESTING_BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(TESTING_BLOCKS)))
def test_testing_doc_python_example(index, capsys):
    run_example(TESTING_BLOCKS[index], f"docs/testing.md[python block {index}]", "__testing_doc__")


def test_readme_first_command_runs_offline():
    first = re.search(r"```bash\n(python -m llmplug chat --offline .*?)\n", README.read_text(encoding="utf-8"))
    assert first, "the quick start must begin with the offline CLI command"
    args = first.group(1).split(" ", 2)[2]  # after 'python -m'
    cmd = [sys.executable, "-m", *_shell_split(args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "You said: Hello there"


def _shell_split(text: str) -> list[str]:
    import shlex

    return shlex.split(text)
