"""The README's examples run, so they cannot drift from the code."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example(index, capsys):
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {"__name__": "__readme__"})


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
