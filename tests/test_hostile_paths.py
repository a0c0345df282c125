"""Issue 27's weak cases about paths and words: a FIFO named .csv hung `data inspect`; a dangling link as --out said
"File exists"; a file given where a run folder is expected was "no such folder"; `--resume` into a finished run of
another model printed that run's metrics as the result; a float32 value 1.00000006 was printed as 1 (the reason the
BCE loss refused data "in [0, 1]")."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
from custom_data_files import signals

from aelab import load
from aelab.cli import main
from aelab.errors import CheckpointError

SMALL = ["--epochs", "1", "--code-size", "4", "--batch-size", "16", "--quiet", "--n-images", "4"]


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


def test_a_fifo_named_like_a_table_is_refused_not_read(tmp_path, capsys):
    fifo = tmp_path / "beats.csv"
    os.mkfifo(fifo)
    done = []
    worker = threading.Thread(target=lambda: done.append(main(["data", "inspect", str(fifo)])), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert done == [3]  # answered at once: a reader opening the FIFO would wait for a writer forever
    assert one_line(capsys).endswith(
        "beats.csv: is a FIFO (named pipe): expected an image folder, a .npy or .npz "
        "file, a .csv or .tsv table, or IDX files"
    )


def test_a_dangling_link_as_data_or_output_says_where_it_points(tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, signals(40, 16)[0])
    (tmp_path / "gone.npy").symlink_to(tmp_path / "moved-away.npy")
    assert main(["data", "inspect", str(tmp_path / "gone.npy")]) == 3
    err = one_line(capsys)
    assert "gone.npy: is a symbolic link to" in err and "moved-away.npy, which does not exist" in err
    (tmp_path / "out").symlink_to(tmp_path / "nowhere")
    assert main(["train", "--dataset", str(data), *SMALL, "--out", str(tmp_path / "out")]) == 6
    err = one_line(capsys)
    assert "is a symbolic link to" in err and "which does not exist" in err and "File exists" not in err


def test_a_file_where_a_run_folder_is_expected_is_called_a_file(tmp_path):
    afile = tmp_path / "metrics.json"
    afile.write_text("{}")
    with pytest.raises(CheckpointError, match=r"metrics.json: is a file: expected a run folder"):
        load(afile)
    with pytest.raises(CheckpointError, match=r"nope: no such folder: expected a run folder"):
        load(tmp_path / "nope")


def test_resume_into_a_finished_run_of_another_model_is_refused_not_reported(tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, signals(60, 16)[0])
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(data), *SMALL, "--out", str(out)]) == 0
    metrics = (out / "metrics.json").read_bytes()
    capsys.readouterr()
    assert main(["train", "--dataset", str(data), *SMALL, "--model", "deep", "--resume", "--out", str(out)]) == 5
    err = one_line(capsys)
    assert "holds a finished run of another configuration: model='shallow' (asked for 'deep')" in err
    assert (out / "metrics.json").read_bytes() == metrics
    assert main(["train", "--dataset", str(data), *SMALL, "--resume", "--out", str(out)]) == 0  # its own: nothing to do
    assert json.loads(metrics) == json.loads((out / "metrics.json").read_bytes())


def test_a_value_just_above_one_is_printed_as_it_is(tmp_path, capsys):
    x = np.full((40, 8), 0.5, np.float32)
    x[3, 2] = np.nextafter(np.float32(1), np.float32(2))  # 1.0000001: not in [0, 1], as the BCE loss will say
    np.save(tmp_path / "x.npy", x)
    assert main(["data", "inspect", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "values in [0.5, 1.000000119" in out and "values in [0.5, 1]" not in out


NOT_OURS = {"--head", "--option", "--code-szie"}  # `ray start --head`; a docstring's placeholder; a typo shown as one


def test_every_option_a_message_names_exists():
    """Hints that named options aelab does not have sent users to `--help` for nothing: every `--name` in a string of
    the source (messages, hints, help) must be an option of some subcommand (CSS custom properties aside)."""
    import argparse
    import ast
    import re
    from pathlib import Path

    import aelab
    from aelab.cli.parser import build_parser

    known: set[str] = set()

    def collect(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            known.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    collect(sub)

    collect(build_parser())
    option = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
    unknown = []
    for path in sorted(Path(aelab.__file__).parent.rglob("*.py")):
        if path.name == "html.py":  # the report's stylesheet: --fg, --muted are CSS variables
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                unknown += [f"{path.name}:{node.lineno} {name}" for name in option.findall(node.value)]
    unknown = [entry for entry in unknown if entry.split()[1] not in known | NOT_OURS]
    assert unknown == []
