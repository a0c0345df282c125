"""Issue 26, every trained model addressable: a study grid's cells that differ only in code size and seed train
together in one sweep folder (no model.safetensors per cell), yet each opens as a model of its own — through
`aelab.load(folder, code_size=, seed=)`, `aelab explore FOLDER --code-size --seed`, and the report's grid table.

One tiny study (64 training images, 1 epoch; shallow and deep, code size 4 and 8 × seed 0 and 1) is run once for
the module. The batched model read straight from the sweep's checkpoint is the oracle: each loaded cell must hold
its member's weights bit for bit and compute its codes and its sweep.json test loss.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch
from conftest import write_tiny_dataset

import aelab
from aelab.cli import main
from aelab.config import SweepConfig
from aelab.data import load_dataset
from aelab.data.registry import REGISTRY
from aelab.errors import CheckpointError
from aelab.models.batched import linear_layers
from aelab.models.dense import DenseAutoencoder
from aelab.runs.checkpointing import read_state
from aelab.studies import parse_study
from aelab.studies.plan import plan_study
from aelab.studies.runner import run_study
from aelab.tasks.sweep import build_model, model_grid

STUDY = """
title = "Cells on tiny"
datasets = ["tiny"]
seeds = [0, 1]

[[steps]]
name = "size"
kind = "train"
model = ["shallow", "deep"]
code_size = [4, 8]
hidden_sizes = [16]
epochs = 1
batch_size = 16

[[steps]]
name = "alone"
kind = "train"
model = "sparse"
code_size = 4
epochs = 1
batch_size = 16
seed = 0
"""
SHALLOW, DEEP, ALONE = "tiny/size/batch,model=shallow", "tiny/size/batch,model=deep", "tiny/alone"
PAIRS = [(4, 0), (4, 1), (8, 0), (8, 1)]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The study run once: its folder, the data folder, the plan's cells and the tiny test images."""
    base = tmp_path_factory.mktemp("grid-cells")
    spec, _ = write_tiny_dataset(base / "data")
    with pytest.MonkeyPatch.context() as patch:  # the module's own, as conftest's tiny_dataset is per test
        patch.setitem(REGISTRY, "tiny", spec)
        for name, folder in (("XDG_CACHE_HOME", "cache"), ("KERAS_HOME", "keras")):
            patch.setenv(name, str(base / folder))
        patch.setenv("AELAB_OFFLINE", "1")
        parsed = parse_study(STUDY, "cells.toml", "cells")
        run_study(parsed, base / "out", data_dir=base / "data", quiet=True, log=lambda m: None, workers=1)
        cells = {
            (step.name, c.config.code_size, c.config.seed): c.config
            for step in plan_study(parsed, quick=False)
            for c in step.cells
        }
        test_x = torch.from_numpy(np.array(load_dataset("tiny", base / "data", progress=False).test_images))
        yield {"out": base / "out", "data": base / "data", "cells": cells, "test_x": test_x.reshape(16, -1)}


def batched_from_checkpoint(folder):
    """The sweep's batched model as the probe reads it: built as the sweep built it, its checkpoint's weights."""
    config = SweepConfig.from_json(json.loads((folder / "config.json").read_text())["config"])
    model = build_model(config, 784)
    tensors, _ = read_state(folder)
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    return model.eval(), model_grid(config)


@pytest.mark.parametrize("name", [SHALLOW, DEEP])
def test_every_cell_loads_as_the_model_its_sweep_trained(study, name):
    folder = study["out"] / name
    assert not (folder / "model.safetensors").exists()  # what issue 26 is about: no per-cell weights on disk
    batched, grid = batched_from_checkpoint(folder)
    assert sorted(grid) == PAIRS
    with torch.no_grad():
        _, batched_codes = batched(study["test_x"])  # (M, 16, 8): the smaller codes padded with zeros
    sweep = json.loads((folder / "sweep.json").read_text())
    for m, (k, seed) in enumerate(grid):
        ae = aelab.load(folder, code_size=k, seed=seed)
        assert isinstance(ae.model_, DenseAutoencoder) and ae.model_.code_size == k
        assert ae.model_.hidden_sizes == (() if name == SHALLOW else (16,))
        for mine, theirs in zip(linear_layers(ae.model_), linear_layers(batched.models[m]), strict=True):
            assert torch.equal(mine.weight, theirs.weight) and torch.equal(mine.bias, theirs.bias)  # bit for bit
        codes = ae.encode(study["test_x"].numpy())
        # the same weights; the batched model's first layer is one GEMM over every model's rows, which BLAS may
        # round differently from this model's own (the ReLU codes agree to float32 rounding, not necessarily bit)
        np.testing.assert_allclose(codes, batched_codes[m, :, :k].numpy(), rtol=0, atol=1e-6)
        assert np.abs(codes).max() > 0  # a code that is all zeros would match anything padded
        entry = next(r for e in sweep["sizes"] if e["code_size"] == k for r in e["runs"] if r["seed"] == seed)
        assert ae.evaluate(study["test_x"].numpy())["bce"] == pytest.approx(entry["final"]["test_bce"], rel=1e-5)
        assert ae.final_["test_bce"] == entry["final"]["test_bce"]
        assert [e["test_loss"] for e in ae.history_] == [e["test_bce"] for e in entry["epochs"]]
        assert ae.config_ == study["cells"][(name, k, seed)]  # what `aelab train` of that cell would have used


def test_a_sweep_without_a_choice_or_with_a_wrong_one_is_refused_in_one_line(study):
    folder = study["out"] / SHALLOW
    listed = "(code size, seed) (4, 0), (4, 1), (8, 0), (8, 1)"
    several = f"a sweep's folder of 4 models: expected a code size and seed naming one of {listed} " + (
        "(--code-size and --seed; code_size= and seed= in Python)"
    )
    for kwargs, expected in (
        ({}, several),
        ({"code_size": 4}, several),
        ({"code_size": 5, "seed": 0}, f"no model of code size 5 and seed 0 in this sweep: expected one of {listed}"),
        ({"seed": 2}, f"no model of seed 2 in this sweep: expected one of {listed}"),
    ):
        with pytest.raises(CheckpointError) as raised:
            aelab.load(folder, **kwargs)
        assert str(raised.value) == f"{folder}: {expected}"
    alone = study["out"] / ALONE
    assert aelab.load(alone, code_size=4, seed=0).model_.code_size == 4  # its own: accepted
    with pytest.raises(CheckpointError) as raised:
        aelab.load(alone, code_size=8, seed=0)
    assert (
        str(raised.value)
        == f"{alone}: no model of code size 8: expected this run's own (code size 4, seed 0), or neither"
    )


def explorer_data(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S)[1])


def test_explore_writes_one_page_per_cell_with_that_cells_weights(study, capsys):
    folder = study["out"] / DEEP
    pages = {}
    for k, seed in ((8, 1), (4, 0)):
        argv = ["explore", str(folder), "--code-size", str(k), "--seed", str(seed), "--data-dir", str(study["data"])]
        assert main(argv) == 0
        pages[(k, seed)] = folder / f"explorer-code{k}-seed{seed}.html"
        assert capsys.readouterr().out == f"explorer: {pages[(k, seed)]}\n"
    assert not (folder / "explorer.html").exists()  # one page per model, none overwriting another
    data = explorer_data(pages[(8, 1)].read_text())
    assert data["meta"]["code_size"] == 8 and data["meta"]["run"] == f"{folder} (code size 8, seed 1)"
    first = aelab.load(folder, code_size=8, seed=1).model_.encoder[0]
    layer = next(layer for layer in data["model"]["encoder"] if layer["type"] == "dense")
    assert base64.b64decode(layer["weight"]) == first.weight.detach().numpy().astype("<f4").tobytes()
    assert main(["explore", str(folder), "--data-dir", str(study["data"])]) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected a code size and seed naming one of (code size, seed) (4, 0)," in err


def test_the_reports_grid_table_says_how_to_open_each_batched_cell(study):
    report = (study["out"] / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| deep | 8 |"))
    assert row.endswith(f"| `aelab.load({DEEP!r}, code_size=8, seed=S)`, S ∈ {{0, 1}} |")
    assert "`aelab explore FOLDER --code-size K --seed S` writes its page" in report
    ae = aelab.load(study["out"] / DEEP, code_size=8, seed=0)  # the call as the table gives it, from the study folder
    assert ae.config_.code_size == 8 and ae.config_.seed == 0
