"""--device cuda on a real GPU: training, the captured step, resume across devices, --deterministic.

Every test here is marked `gpu`: without a CUDA GPU tests/conftest.py deselects them (the header and the
summary say so; tests/test_devices.py checks that they are never counted as passed).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import aelab
from aelab.cli import main
from aelab.models.dense import DenseAutoencoder
from aelab.models.registry import MODELS
from aelab.objectives import ReconstructionObjective
from aelab.train.captured import CAPTURED, CapturedStep
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.trainer import Trainer

pytestmark = pytest.mark.gpu


def images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, 784, generator=g) - 1))


def trainer(device: str, engine: str, epochs: int = 2, deterministic: bool = False) -> Trainer:
    model = DenseAutoencoder(784, 8, (32,), generator=torch.Generator().manual_seed(0))
    return Trainer(
        model,
        ReconstructionObjective(),
        batch_size=32,
        epochs=epochs,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine=engine,
        device=device,
        deterministic=deterministic,
    )


def weights(t: Trainer) -> list[torch.Tensor]:
    return [p.detach() for p in t.model.state_dict().values()]


def test_the_captured_step_matches_eager_autograd_on_cuda():
    x = images(1000)  # 31 full batches and one of 8 per epoch
    eager, captured = trainer("cuda", "autograd"), trainer("cuda", "fused")
    assert type(captured.engine) is CapturedStep and captured.engine.describe()["fallback"] == CAPTURED.format(
        device="cuda"
    )
    a, b = eager.fit(x, x[:200]), captured.fit(x, x[:200])
    assert all(p.device.type == "cpu" for p in captured.model.parameters())  # fit returns the model on the CPU
    for ra, rb in zip(a, b):
        assert ra.train_loss == pytest.approx(rb.train_loss, rel=1e-4)
    for wa, wb in zip(weights(eager), weights(captured)):
        torch.testing.assert_close(wa, wb, rtol=1e-3, atol=1e-5)


def test_cuda_matches_the_cpu_to_float32_rounding():
    x = images(512)
    on_cpu, on_gpu = trainer("cpu", "autograd"), trainer("cuda", "autograd")
    on_cpu.fit(x)
    on_gpu.fit(x)
    for wa, wb in zip(weights(on_cpu), weights(on_gpu)):
        torch.testing.assert_close(wa, wb, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("engine", ["autograd", "fused"])
def test_deterministic_cuda_repeats_bit_for_bit(engine):
    x = images(512)
    first, second = trainer("cuda", engine, deterministic=True), trainer("cuda", engine, deterministic=True)
    first.fit(x)
    second.fit(x)
    assert all(torch.equal(a, b) for a, b in zip(weights(first), weights(second)))


@pytest.mark.parametrize("cpu_engine", ["fused", "autograd"])
def test_a_cpu_checkpoint_continues_on_cuda(cpu_engine):
    """The compiled step's flat Adam state becomes the captured step's (capturable) torch.optim.Adam state."""
    x = images(512)
    whole = trainer("cpu", cpu_engine, epochs=2)
    whole.fit(x)
    half = trainer("cpu", cpu_engine, epochs=1)
    half.fit(x)
    tensors, info = trainer_state(half)
    moved = trainer("cuda", "fused", epochs=2)
    restore_trainer_state(moved, tensors, info)
    moved.fit(x)
    assert [r.epoch for r in moved.position.history] == [1, 2]
    for wa, wb in zip(weights(whole), weights(moved)):
        torch.testing.assert_close(wa, wb, rtol=1e-3, atol=1e-5)
    tensors, info = trainer_state(moved)
    assert all(t.device.type == "cpu" for t in tensors.values())
    back = trainer("cpu", "fused", epochs=3)  # and back to the CPU's compiled step for a third epoch
    restore_trainer_state(back, tensors, info)
    assert len(back.fit(x)) == 3


@pytest.mark.parametrize("model", MODELS)
def test_every_family_trains_on_cuda_and_its_folder_loads_on_the_cpu(tiny_dataset, tmp_path, model):
    root, _, _ = tiny_dataset
    out = tmp_path / model
    assert (
        main(
            [
                "train",
                "--model",
                model,
                "--dataset",
                "tiny",
                "--data-dir",
                str(root),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "16",
                "--code-size",
                "2",
                "--n-images",
                "2",
                "--n-weights",
                "2",
                "--quiet",
                "--device",
                "cuda",
            ]
        )
        == 0
    )
    record = json.loads((out / "config.json").read_text())
    assert record["device"]["resolved"] == "cuda" and record["engine"]["device"] == "cuda"
    assert record["engine"]["fallback"].startswith("the compiled step runs on the CPU only; on cuda")
    assert all(t.device.type == "cpu" for t in load_file(out / "model.safetensors").values())
    loaded = aelab.load(out)
    assert np.isfinite(loaded.encode(np.zeros((2, 784), dtype=np.float32))).all()
