"""Settings a model family does not use (issue 28), said at every door and put back to their defaults, so that
config.json records what shaped the model: `--code-size` on the command line, `code_size=` in Python, `code_size =`
in a study — each one line, each naming the setting, the model and why."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import aelab
from aelab.cli import main
from aelab.studies.reader import load_study

STUDY = """title = "unused"
description = "a code size for a model whose code is fixed"
datasets = ["{data}"]
[[steps]]
name = "grid"
kind = "train"
model = ["shallow", "conv"]
code_size = [8, 16]
epochs = 1
"""


def test_the_api_warns_and_fits_with_the_default():
    x = np.random.default_rng(0).random((80, 16)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"hidden_sizes=\(64,\) does nothing with model='shallow' \(it has no hidden"):
        ae = aelab.Autoencoder(model="shallow", hidden_sizes=(64,), epochs=1, verbose=0).fit(x)
    assert ae.config_.hidden_sizes == (128,)  # the default, recorded as what was used
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a setting the model uses: no warning
        aelab.Autoencoder(model="deep", hidden_sizes=(64,), epochs=1, verbose=0).fit(x)


def test_a_study_warns_once_per_step_and_setting_and_plans_the_default(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32))
    path = tmp_path / "s.toml"
    path.write_text(STUDY.format(data=tmp_path / "x.npy"))
    study = load_study(path)
    with pytest.warns(UserWarning) as caught:
        cells = study.cells()
    messages = sorted({str(w.message) for w in caught})
    assert messages == [
        f"step 'grid': code_size = {k} does nothing with model = 'conv' (its code is fixed by the architecture): "
        "left at its default"
        for k in (16, 8)
    ]
    assert [c.config.code_size for c in cells if c.config.model == "conv"] == [32, 32]
    assert [c.config.code_size for c in cells if c.config.model == "shallow"] == [8, 16]
    assert main(["run", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "aelab: warning: step 'grid': code_size = 8 does nothing with model = 'conv'" in err
    assert "UserWarning" not in err and "Traceback" not in err
