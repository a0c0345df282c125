"""The batched sweep model: the same computation as training each DenseAutoencoder on its own."""

from __future__ import annotations

import pytest
import torch

from aelab.models.batched import BatchedDenseAutoencoder, linear_layers, per_model_metrics
from aelab.models.dense import DenseAutoencoder
from aelab.objectives import PerModelBCE, ReconstructionObjective
from aelab.train.trainer import Trainer

N_FEATURES, SIZES, SEEDS = 64, (3, 5, 8), (11, 12)
SETTINGS = {"batch_size": 32, "epochs": 2, "learning_rate": 1e-2, "quiet": True}


def synthetic_images(n: int = 256, seed: int = 0) -> torch.Tensor:
    """(n, 64) pixels in [0, 1] with low-rank structure, so the models have something to learn."""
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * torch.randn(n, 4, generator=g) @ torch.randn(4, N_FEATURES, generator=g) / 2)


def grid() -> list[tuple[int, int]]:
    return [(k, s) for k in SIZES for s in SEEDS]


def batched(hidden: tuple[int, ...]) -> BatchedDenseAutoencoder:
    return BatchedDenseAutoencoder(
        N_FEATURES, [k for k, _ in grid()], hidden, [torch.Generator().manual_seed(s) for _, s in grid()]
    )


@pytest.mark.parametrize("hidden", [(), (16,)], ids=["shallow", "deep"])
def test_batched_training_equals_training_one_by_one(hidden):
    x = synthetic_images()
    model = batched(hidden)
    initial = [w.detach().clone() for w in model.parameters()]
    history = Trainer(model, PerModelBCE(), generator=torch.Generator().manual_seed(7), **SETTINGS).fit(x)
    together = per_model_metrics(model, x)["bce"]
    for m, (k, seed) in enumerate(grid()):
        alone = DenseAutoencoder(N_FEATURES, k, hidden, torch.Generator().manual_seed(seed))
        trainer = Trainer(alone, ReconstructionObjective(), generator=torch.Generator().manual_seed(7), **SETTINGS)
        records = trainer.fit(x)
        assert history[-1].train_parts["bce"][m] == pytest.approx(records[-1].train_loss, rel=1e-3)
        assert together[m] == pytest.approx(trainer.evaluate(x), rel=1e-3)
        for mine, theirs in zip(model.extract(m).parameters(), alone.parameters()):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
    moved = [(w.detach() - w0).abs().max().item() for w, w0 in zip(model.parameters(), initial) if w.dim() == 2]
    assert min(moved) > 1e-2  # every layer trained well past rounding: the match above is not vacuous


@pytest.mark.parametrize("hidden", [(), (16,)], ids=["shallow", "deep"])
def test_initialisation_is_exactly_dense_autoencoders(hidden):
    model = batched(hidden)
    for m, (k, seed) in enumerate(grid()):
        reference = DenseAutoencoder(N_FEATURES, k, hidden, torch.Generator().manual_seed(seed))
        for mine, theirs in zip(linear_layers(model.extract(m)), linear_layers(reference)):
            assert torch.equal(mine.weight, theirs.weight) and torch.equal(mine.bias, theirs.bias)
        assert model.n_parameters[m] == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("hidden", [(), (16,)], ids=["shallow", "deep"])
def test_nothing_is_padded_and_codes_are_padded_only_in_the_output(hidden):
    model = batched(hidden)
    assert sum(p.numel() for p in model.parameters()) == sum(model.n_parameters)  # exactly the models' own parameters
    x = synthetic_images(8, seed=1)
    _, code = model(x)  # (M, 8, C)
    for m, (k, _) in enumerate(grid()):
        alone = model.extract(m)
        assert torch.allclose(code[m, :, :k], alone.encode(x), atol=1e-6)
        assert torch.equal(code[m, :, k:], torch.zeros_like(code[m, :, k:]))


def test_shapes_and_vector_parts():
    model = batched(())
    x = synthetic_images(10)
    logits, code = model(x)
    assert logits.shape == (len(grid()), 10, N_FEATURES) and code.shape == (len(grid()), 10, max(SIZES))
    total, parts = PerModelBCE()(logits, code, x)
    assert parts["bce"].shape == parts["mse"].shape == (len(grid()),)
    torch.testing.assert_close(total, parts["bce"].sum())
    assert model.reconstruct(x).min() >= 0 and model.reconstruct(x).max() <= 1
