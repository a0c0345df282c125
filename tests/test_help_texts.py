"""What a new user reads first (issue 28): `--help` grouped by purpose with every choice shown, and no development
vocabulary ("issue 13", "the issue's …", "stop 14") in help, the public API's docstrings or the text of summaries."""

from __future__ import annotations

import argparse
import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import aelab
from aelab.cli.parser import build_parser
from aelab.tasks.anomaly.run import class_label

DEVELOPER_WORDS = re.compile(r"\bissues? ?#?\d+|\bthe issue\b|\bthe issue's\b|\bstop \d+\b", re.IGNORECASE)
SUMMARY_WRITERS = ("runs/summary.py", "tasks/anomaly/summary.py", "tasks/probe/summary.py", "report/sections.py")


def subparsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from subparsers(sub)


def test_train_help_is_grouped_by_purpose_and_shows_every_choice(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = capsys.readouterr().out
    sections = [line[:-1] for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert sections == [
        "options",
        "the model",
        "the data",
        "training",
        "where and how it computes",
        "figures (they change what is drawn, not the model)",
    ]
    assert "--model {shallow,deep,denoising,sparse,conv,conv-denoising,vae,conv-vae,beta-vae}" in text
    figures = text.split("figures (they change")[1]
    assert "--n-images" in figures and "--code-size" not in figures


def test_no_development_vocabulary_in_help_docstrings_or_summaries():
    found = []
    for parser in subparsers(build_parser()):
        for text in [parser.description or "", *(action.help or "" for action in parser._actions)]:
            found += [f"{parser.prog}: {m}" for m in DEVELOPER_WORDS.findall(text)]
    for name in aelab.__all__:
        thing = getattr(aelab, name)
        members = [thing, *(m for _, m in inspect.getmembers(thing) if callable(m) and not _private(m))]
        for member in members:
            found += [f"{name}: {m}" for m in DEVELOPER_WORDS.findall(inspect.getdoc(member) or "")]
    for module in ("api.py", *SUMMARY_WRITERS):
        path = Path(aelab.__file__).parent / module
        tree = ast.parse(path.read_text(encoding="utf-8"))
        strings = [
            node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        found += [f"{module}: {m}" for text in strings for m in DEVELOPER_WORDS.findall(text)]
    assert found == []


def _private(member) -> bool:
    return getattr(member, "__name__", "_").startswith("_")


def test_a_class_named_by_its_number_is_not_said_twice():
    assert class_label(0, "0") == "0" and class_label(3, "dress") == "3 (dress)"


def test_a_loaded_model_shows_only_what_its_run_asked_for(tmp_path):
    x = np.random.default_rng(0).random((80, 16)).astype(np.float32)
    ae = aelab.Autoencoder(model="deep", epochs=1, verbose=0).fit(x)
    ae.save(tmp_path / "run")
    shown = repr(aelab.load(tmp_path / "run"))
    assert "model='deep'" in shown and "epochs=1" in shown
    assert "noise_factor" not in shown and "l1=" not in shown and "beta" not in shown
