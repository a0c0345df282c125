"""The study's four models end to end on small real subsets, and the denoising data path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aelab.config import FigureConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.models.dense import DenseAutoencoder
from aelab.objectives import ReconstructionObjective
from aelab.runs.figures import chosen_indices
from aelab.tasks.recipe import noisy_inputs, resolve, seeded_generators
from aelab.tasks.train import train_run
from aelab.train.trainer import Trainer


@pytest.mark.parametrize("model", ["shallow", "deep", "denoising", "sparse"])
def test_short_real_run_lowers_the_loss(real_data_dir, tmp_path, model):
    config = TrainConfig(model=model, train_size=3000, test_size=500, epochs=2)
    metrics = train_run(
        config,
        tmp_path / model,
        FigureConfig(n_images=3, n_weights=4),
        data_dir=real_data_dir,
        quiet=True,
        log=lambda m: None,
    )
    losses = [e["train_loss"] for e in metrics["epochs"]]
    assert losses[1] < losses[0]
    final = metrics["final"]
    assert final["test_bce"] > final["test_bce_floor"]
    assert 0.0 <= final["test_code_zero_fraction"] <= 1.0
    saved = json.loads((tmp_path / model / "config.json").read_text())["config"]
    if model == "denoising":
        assert saved["noise"] == "gaussian" and "clean_test_bce" in final
    if model == "sparse":
        assert saved["l1"] == 1e-5 and final["train_l1"] > 0
        assert final["train_loss"] == pytest.approx(final["train_bce"] + final["train_l1"], rel=1e-6)
    summary = (tmp_path / model / "summary.md").read_text()
    assert f"{final['test_bce']:.4f}" in summary and "![reconstructions](reconstructions.png)" in summary


def test_study_defaults_per_model():
    assert resolve(TrainConfig(model="shallow")).epochs == 5
    deep = resolve(TrainConfig(model="deep"))
    assert deep.epochs == 10 and deep.noise is None and deep.l1 == 0.0
    assert resolve(TrainConfig(model="denoising")).noise == "gaussian"
    assert resolve(TrainConfig(model="sparse", l1=0.0)).l1 == 0.0  # an explicit value wins


def test_denoiser_sees_noise_but_is_scored_against_clean_target():
    x = torch.rand(64, 20, generator=torch.Generator().manual_seed(0))
    config = resolve(TrainConfig(model="denoising", batch_size=16))
    _, test_inputs, transform = noisy_inputs(config, x, x, seeded_generators(0))
    seen = []

    class Recorder(ReconstructionObjective):
        def __call__(self, logits, code, target):
            seen.append(target.clone())
            return super().__call__(logits, code, target)

    model = DenseAutoencoder(20, 4)
    original_forward = model.forward
    inputs_seen = []
    model.forward = lambda inputs: (inputs_seen.append(inputs.clone()), original_forward(inputs))[1]
    Trainer(
        model,
        Recorder(),
        batch_size=16,
        epochs=1,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        input_transform=transform,
        quiet=True,
    ).fit(x)
    clean_rows = {tuple(r.tolist()) for r in x}
    for target, inputs in zip(seen, inputs_seen):
        assert all(tuple(r.tolist()) in clean_rows for r in target)  # the target is the clean image
        assert not torch.equal(inputs, target)  # the input is not
        assert (inputs - target).abs().max() <= 0.2 * 6  # and differs by clipped Gaussian noise
    assert not torch.equal(test_inputs, x)


def test_fixed_noise_is_drawn_once_fresh_noise_every_time():
    x = torch.rand(32, 10)
    fixed = resolve(TrainConfig(model="denoising", fixed_noise=True))
    train_inputs, _, transform = noisy_inputs(fixed, x, x, seeded_generators(0))
    assert transform is None and train_inputs.shape == x.shape and not torch.equal(train_inputs, x)
    again, _, _ = noisy_inputs(fixed, x, x, seeded_generators(0))
    assert torch.equal(train_inputs, again)  # reproducible from the seed
    fresh = resolve(TrainConfig(model="denoising"))
    none, _, transform = noisy_inputs(fresh, x, x, seeded_generators(0))
    g = torch.Generator().manual_seed(0)
    assert none is None and not torch.equal(transform(x, g), transform(x, g))


def test_image_choice_first_n_indices_and_per_class():
    labels = np.array([3, 1, 3, 0, 1, 2, 0])
    assert chosen_indices(FigureConfig(n_images=3), labels).tolist() == [0, 1, 2]
    assert chosen_indices(FigureConfig(indices=(6, 2)), labels).tolist() == [6, 2]
    per_class = chosen_indices(FigureConfig(per_class=True), labels)
    assert sorted(labels[per_class].tolist()) == [0, 1, 2, 3] and per_class.tolist() == [3, 1, 5, 0]
    with pytest.raises(ConfigError, match="--indices 7: expected indices below 7"):
        chosen_indices(FigureConfig(indices=(1, 7)), labels)
