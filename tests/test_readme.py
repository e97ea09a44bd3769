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
#: Each document whose ```python blocks run, and at least how many it has. A block runs from
#: a line opening with ```python to the next line that is ``` (docs/testing.md's pytest files
#: are ```text: they need pytest and a package).
DOCUMENTS = {"README.md": 4, "docs/structured.md": 5, "docs/batch.md": 6, "docs/testing.md": 8}


def blocks_of(document: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", (ROOT / document).read_text(encoding="utf-8"), flags=re.S | re.M)


EXAMPLES = [(document, index, block) for document in DOCUMENTS for index, block in enumerate(blocks_of(document))]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_each_document_has_examples(document):
    assert len(blocks_of(document)) >= DOCUMENTS[document]


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


@pytest.mark.parametrize(("document", "index", "source"), EXAMPLES, ids=[f"{d}[{i}]" for d, i, _ in EXAMPLES])
def test_python_example(document, index, source, capsys):
    if re.search(r"^\s*import pydantic\b", source, flags=re.M) and importlib.util.find_spec("pydantic") is None:
        pytest.skip("this example uses pydantic, which is not installed")
    run_example(source, f"{document}[python block {index}]", "__doc_example__")


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
