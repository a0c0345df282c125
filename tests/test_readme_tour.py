"""The README opens with a five-minute tour (issue 28): it comes first, its Python runs as written, and every `aelab`
command in it parses (a renamed option would otherwise send a new user's first command to an error)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from aelab.cli.parser import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def tour() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Five minutes with aelab", 1)[1].split("\n## ", 1)[0]


def test_the_tour_is_the_first_section_and_the_engine_comes_later():
    headings = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("## ")]
    assert headings[0] == "## Five minutes with aelab"
    assert headings.index("## The engine") > headings.index("## Python API")


def test_every_aelab_command_of_the_tour_parses():
    commands = [line.split("#", 1)[0].strip() for line in re.findall(r"^aelab .*$", tour(), re.MULTILINE)]
    assert len(commands) >= 6
    parser = build_parser()
    for command in commands:
        parser.parse_args(shlex.split(command)[1:])  # exits 2 on an unknown option or subcommand


def test_the_tours_python_runs_as_written(tmp_path, monkeypatch):
    (block,) = re.findall(r"```python\n(.*?)```", tour(), re.DOTALL)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["codes"].shape == (1797, 8)
    assert (tmp_path / "runs" / "digits" / "finished.json").is_file()
