"""The new families everywhere a user meets them: `aelab train`, run folders, the Python API, study files, the
report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aelab
from aelab.cli import main
from aelab.config import TrainConfig
from aelab.errors import ConfigError
from aelab.studies.reader import load_study
from aelab.tasks.recipe import seeded_generators, select

STUDIES = Path(__file__).resolve().parents[1] / "studies"
FAMILY_FIGURES = {
    "conv": {"filters.png", "feature_maps.png", "codes.png", "interpolation.png"},
    "vae": {
        "weights.png",
        "codes.png",
        "manifold.png",
        "manifold_codes.png",
        "samples.png",
        "traversals.png",
        "interpolation.png",
    },
    "conv-vae": {"filters.png", "feature_maps.png", "codes.png", "manifold.png", "samples.png", "traversals.png"},
}


@pytest.mark.parametrize("model", sorted(FAMILY_FIGURES))
def test_aelab_train_writes_a_complete_run_folder(tiny_dataset, tmp_path, model):
    root, _, _ = tiny_dataset
    out = tmp_path / model
    code = main(
        [
            "train",
            "--model",
            model,
            "--dataset",
            "tiny",
            "--data-dir",
            str(root),
            "--code-size",
            "2",
            "--hidden-sizes",
            "16",
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "metrics.json", "model.safetensors", "summary.md", "finished.json", "loss.png"} <= files
    assert FAMILY_FIGURES[model] <= files
    engine = json.loads((out / "config.json").read_text())["engine"]
    if (
        model == "vae"
    ):  # the dense VAE trains on its compiled step (tests/test_fused_vae.py), never silently on autograd
        assert engine["engine"] == "compiled" and "fallback" not in engine
    else:
        assert engine["engine"] == "autograd" and "dense autoencoders only" in engine["fallback"]
    summary = (out / "summary.md").read_text()
    assert all(f"({name})" in summary for name in FAMILY_FIGURES[model])


def test_a_vae_run_records_each_loss_part_per_epoch_and_they_add_up(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    out = tmp_path / "beta"
    assert (
        main(
            [
                "train",
                "--model",
                "beta-vae",
                "--beta",
                "2.5",
                "--dataset",
                "tiny",
                "--data-dir",
                str(root),
                "--code-size",
                "3",
                "--hidden-sizes",
                "16",
                "--epochs",
                "2",
                "--batch-size",
                "16",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    for epoch in metrics["epochs"]:
        parts = epoch["train_parts"]
        assert epoch["train_loss"] == pytest.approx(
            parts["reconstruction"] + 2.5 * parts["kl"], rel=1e-6
        )  # float32 sums
        assert len(parts["kl_per_dim"]) == 3 and sum(parts["kl_per_dim"]) == pytest.approx(parts["kl"], rel=1e-6)
    final = metrics["final"]
    assert final["test_elbo"] == pytest.approx(-(final["test_reconstruction"] + final["test_kl"]))
    assert 0 <= final["test_active_dims"] <= 3 and final["test_kl"] > 0
    assert "Test ELBO" in (out / "summary.md").read_text()
    assert "![traversals](traversals.png)" in (out / "summary.md").read_text()  # a β-VAE's traversal, listed


def test_train_with_test_trains_on_both_sets(tiny_dataset):
    root, spec, _ = tiny_dataset
    data = aelab.load_dataset("tiny", root, progress=False)
    generators = seeded_generators(0)
    train, test, _ = select(data, TrainConfig(dataset="tiny", train_with_test=True), generators["subset"])
    assert len(train) == spec.n_train + spec.n_test and len(test) == spec.n_test
    assert torch.equal(train[spec.n_train :], test)


def test_api_conv_vae_round_trip(tiny_dataset, tmp_path):
    root, _, arrays = tiny_dataset
    data = aelab.load_dataset("tiny", root, progress=False)
    ae = aelab.Autoencoder(model="conv-vae", code_size=2, epochs=1, batch_size=16).fit(
        data.train_images, X_test=data.test_images
    )
    codes = ae.encode(data.test_images)
    assert codes.shape == (16, 2) and codes.dtype == np.float32
    assert ae.decode(codes).shape == (16, 784) and ae.reconstruct(data.test_images.reshape(16, 28, 28)).shape == (
        16,
        28,
        28,
    )
    assert "test_elbo" in ae.final_
    saved = aelab.load(ae.save(tmp_path / "saved"))
    assert np.array_equal(saved.encode(data.test_images), codes)
    assert np.array_equal(saved.reconstruct(data.test_images), ae.reconstruct(data.test_images))


def test_api_conv_codes_have_the_architectures_size(tiny_dataset):
    root, _, _ = tiny_dataset
    data = aelab.load_dataset("tiny", root, progress=False)
    ae = aelab.Autoencoder(model="conv", epochs=1, batch_size=32).fit(data.train_images)
    codes = ae.encode(data.test_images)
    assert codes.shape == (16, 7 * 7 * 32) and codes.min() >= 0
    assert ae.decode(codes).shape == (16, 784)


def test_the_keras_examples_study_has_their_settings():
    study = load_study(STUDIES / "keras-examples.toml")
    configs = {cell.step: cell.config for cell in study.cells()}
    assert configs["conv"].model == "conv" and configs["conv"].epochs == 50 and configs["conv"].batch_size == 128
    denoiser = configs["conv-denoising"]
    assert (denoiser.epochs, denoiser.clean_epochs, denoiser.fixed_noise, denoiser.batch_size) == (150, 50, True, 128)
    vae = configs["conv-vae"]
    assert (vae.model, vae.code_size, vae.epochs, vae.batch_size, vae.train_with_test) == ("conv-vae", 2, 30, 128, True)
    assert not configs["conv-vae-held-out"].train_with_test


def test_clean_epochs_come_before_the_noise_with_one_model_and_optimiser():
    from aelab.models.dense import DenseAutoencoder
    from aelab.objectives import ReconstructionObjective
    from aelab.train.trainer import Trainer

    noisy_steps: list[int] = []

    def corrupt(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noisy_steps.append(trainer.position.epoch)
        return batch.flip(0)

    x = torch.rand(32, 12)
    trainer = Trainer(
        DenseAutoencoder(12, 3, (), torch.Generator().manual_seed(0)),
        ReconstructionObjective(),
        batch_size=8,
        epochs=3,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        input_transform=corrupt,
        quiet=True,
        clean_epochs=1,
    )
    test, noisy_test = torch.rand(16, 12), torch.rand(16, 12)
    both: list[tuple[float, float]] = []  # each epoch's test loss on clean and on noisy inputs, taken at its end
    history = trainer.fit(
        x,
        test,
        lambda record: both.append((trainer.evaluate(test), trainer.evaluate(test, noisy_test))),
        test_inputs=noisy_test,
    )
    assert noisy_steps == [2] * 4 + [3] * 4 and len(history) == 3
    # the clean epoch validates on clean test images (as the Keras example's first phase),
    # the noisy ones on noisy inputs
    assert [r.test_loss for r in history] == [both[0][0], both[1][1], both[2][1]]
    assert both[0][0] != both[0][1]
    assert int(trainer.optimizer.state_dict()["state"][0]["step"]) == 12  # one optimiser through all three epochs


def test_clean_epochs_must_leave_noisy_ones():
    with pytest.raises(ConfigError, match="--clean-epochs 5: expected a whole number ≥ 0 and below --epochs"):
        TrainConfig(model="conv-denoising", epochs=5, clean_epochs=5)


def test_every_family_takes_the_noise_options(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    out = tmp_path / "noisy-vae"
    assert (
        main(
            [
                "train",
                "--model",
                "vae",
                "--noise",
                "masking",
                "--noise-factor",
                "0.3",
                "--dataset",
                "tiny",
                "--data-dir",
                str(root),
                "--code-size",
                "2",
                "--hidden-sizes",
                "16",
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert "clean_test_bce" in final and final["test_bce"] != final["clean_test_bce"]


def test_a_study_of_the_families_reports_their_figures_and_architecture(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    study = tmp_path / "families.toml"
    study.write_text(
        'title = "Families on tiny"\ndatasets = ["tiny"]\n\n'
        '[[steps]]\nname = "conv-vae"\nkind = "train"\nmodel = "conv-vae"\ncode_size = 2\n'
        'epochs = 1\nbatch_size = 16\n\n'
        '[[steps]]\nname = "conv"\nkind = "train"\nmodel = "conv"\nepochs = 1\nbatch_size = 16\n'
    )
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "--data-dir", str(root), "--quiet", "--workers", "1"]) == 0
    report = (out / "report.md").read_text()
    assert "the Keras VAE example" in report and "the Keras conv example" in report
    for name in ("manifold", "samples", "codes", "interpolation", "filters", "feature_maps"):
        assert f"tiny/conv-vae/{name}.png" in report or f"tiny/conv/{name}.png" in report, name
    assert "Test ELBO" in report


def test_a_conv_steps_estimate_counts_its_multiply_adds_not_its_parameters():
    from aelab.models.registry import multiply_adds
    from aelab.studies.plan import plan_study
    from aelab.studies.reader import parse_study

    text = (
        'title = "t"\ndatasets = ["mnist"]\n\n[[steps]]\nname = "conv"\nkind = "train"\nmodel = "conv"\nepochs = 1\n\n'
        '[[steps]]\nname = "deep"\nkind = "train"\nmodel = "deep"\nepochs = 1\n'
    )
    costs = {step.name: step.cost() for step in plan_study(parse_study(text, "t.toml"), quick=False)}
    assert multiply_adds("conv", (1, 28, 28), 32) == 4_515_840  # the five layers' kernels × output positions, by hand
    assert (
        costs["mnist/conv"] > 10 * costs["mnist/deep"]
    )  # (1 + 45) against (1 + 2.1) per image: 4.5 M multiply-adds, 0.2 M
