"""Options and data folders found wrong by trying them as a new user would: each gets one line that
names the thing and what was expected, an exit code ≠ 0, and nothing written."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aelab.cli import main
from aelab.data.registry import SPLIT_FILES


def run_cli(*args: str) -> int:
    try:
        return main(list(args))
    except SystemExit as exc:  # argparse's own errors
        return exc.code


NOTATIONS = [repr, "{:e}".format, "{:E}".format, "{:g}".format, "{:.3e}".format]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.floats(max_value=0, allow_nan=False, allow_infinity=True), notation=st.sampled_from(NOTATIONS))
def test_a_negative_learning_rate_in_any_notation_reaches_the_validator(tmp_path, capsys, value, notation):
    text = notation(value)
    if not text.startswith("-"):  # 0.0 (and -0.0 written as 0): the same refusal, without the sign
        text = "-" + text
    out = tmp_path / "run"
    assert run_cli("train", "--learning-rate", text, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"aelab: error: --learning-rate {float(text)!r}: expected a number in (0, 10)")
        and err.count("\n") == 1
    )
    assert not out.exists()


@pytest.mark.parametrize("text", ["-1e-3", "-1E+2", "-.5e1", "-inf", "-nan"])
def test_negative_numbers_with_exponents_inf_or_nan_are_values_not_options(tmp_path, capsys, text):
    assert run_cli("train", "--learning-rate", text, "--out", str(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "--learning-rate" in err and "expected a number in (0, 10)" in err and "expected one argument" not in err
    assert math.isnan(float(text)) or f"--learning-rate {float(text)!r}" in err


@pytest.mark.parametrize("value", ["-1", "-1e-9", "1000", "1e6"])
def test_the_l1_error_states_its_real_range(tmp_path, capsys, value):
    assert run_cli("train", "--l1", value, "--out", str(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert err == f"aelab: error: --l1 {float(value)!r}: expected a number in [0, 1000)\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_reproduce_with_no_workers_is_refused_before_anything_is_written(tmp_path, capsys, workers):
    out = tmp_path / "study"
    assert run_cli("reproduce", "--quick", "--workers", workers, "--out", str(out)) == 2
    assert capsys.readouterr().err == f"aelab: error: --workers {workers}: expected at least 1\n"
    assert not out.exists()


def test_an_incomplete_data_folder_names_the_missing_file(tiny_dataset, tmp_path, capsys):
    root, _, _ = tiny_dataset
    (root / "tiny" / f"{SPLIT_FILES['test_labels']}.gz").unlink()
    assert run_cli("train", "--dataset", "tiny", "--data-dir", str(root), "--out", str(tmp_path / "run")) == 4
    err = capsys.readouterr().err
    assert f"--data-dir {root / 'tiny'} (incomplete: no {SPLIT_FILES['test_labels']})" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_offline_the_no_data_error_says_downloads_are_off(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    assert run_cli("train", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "run")) == 4
    err = capsys.readouterr().err
    assert "data set 'fashion-mnist' not found" in err
    assert "downloads are turned off (AELAB_OFFLINE=1; unset it to download from the mirrors)" in err


def test_online_the_no_data_error_says_the_download_failed(tiny_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AELAB_OFFLINE", "0")  # 'tiny' has no mirrors: the download itself fails
    assert (
        run_cli("train", "--dataset", "tiny", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "run")) == 4
    )
    err = capsys.readouterr().err
    assert "and could not be downloaded (" in err and "turned off" not in err


def test_figure_defaults_follow_the_code_size(tiny_dataset, tmp_path, capsys):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    common = ["train", "--dataset", "tiny", "--epochs", "1", "--batch-size", "16", "--data-dir", str(root), "--quiet"]
    assert run_cli(*common, "--code-size", "8", "--out", str(out)) == 0  # was "--n-weights 16: expected at most 8"
    assert json.loads((out / "config.json").read_text())["figures"]["n_weights"] == 8
    assert (out / "weights.png").is_file()
    assert run_cli(*common, "--code-size", "40", "--out", str(tmp_path / "wide")) == 0
    assert json.loads((tmp_path / "wide" / "config.json").read_text())["figures"]["n_weights"] == 16
    capsys.readouterr()
    assert run_cli(*common, "--code-size", "8", "--n-weights", "9", "--out", str(tmp_path / "asked")) == 2
    assert "--n-weights 9: expected at most 8 (units in the first layer)" in capsys.readouterr().err
    assert not (tmp_path / "asked").exists()
