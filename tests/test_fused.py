"""The compiled step (forward, backward, Adam in compiled calls) computes what autograd + torch.optim.Adam compute."""

from __future__ import annotations

import shutil

import pytest
import torch

from aelab.data.noise import corruption
from aelab.errors import EngineError
from aelab.models.dense import DenseAutoencoder
from aelab.native import library
from aelab.objectives import ReconstructionObjective, SparseObjective, objective_for
from aelab.train.compiled.dense import CompiledDenseStep
from aelab.train.engines import make_step
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.step import AutogradStep
from aelab.train.trainer import Trainer


def images(n=256, d=64, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, d, generator=g) - 1))


def trained(engine: str, hidden=(), l1=0.0, reduction="mean", noise=None, epochs=3, batch=16, threads=1):
    model = DenseAutoencoder(64, 6, hidden, generator=torch.Generator().manual_seed(1))
    trainer = Trainer(
        model,
        objective_for(l1, reduction),
        batch_size=batch,
        epochs=epochs,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(2),
        quiet=True,
        engine=engine,
        threads=threads,
        input_transform=corruption(noise, 0.2) if noise else None,
    )
    expected = CompiledDenseStep if engine == "fused" else AutogradStep
    assert type(trainer.engine) is expected, trainer.engine.describe()  # no silent fallback where the module is built
    history = trainer.fit(images(), images(64, seed=5))
    return model, history


@pytest.mark.parametrize("threads", [1, 2], ids=["one-thread", "two-threads"])
@pytest.mark.parametrize(
    "hidden, l1, reduction, noise, batch",
    [
        ((), 0.0, "mean", None, 16),
        ((16,), 0.0, "mean", None, 16),
        ((16, 8), 0.0, "mean", None, 16),
        ((), 1e-3, "mean", None, 16),
        ((), 1e-3, "sum", None, 16),
        ((16,), 1e-3, "mean", None, 16),
        ((16,), 0.0, "mean", "gaussian", 16),
        ((16,), 1e-3, "mean", None, 15),  # 15: odd halves and a last batch of 1
    ],
)
def test_compiled_step_matches_autograd(hidden, l1, reduction, noise, batch, threads):
    (ma, ha), (mb, hb) = (
        trained("autograd", hidden, l1, reduction, noise, batch=batch),
        trained("fused", hidden, l1, reduction, noise, batch=batch, threads=threads),
    )
    for (name, p), q in zip(ma.named_parameters(), mb.parameters()):
        assert p.shape == q.shape
        assert torch.allclose(p, q, atol=2e-5, rtol=1e-4), f"{name}: max diff {(p - q).abs().max():.2e}"
    for a, b in zip(ha, hb):  # 48 steps of Adam later, losses agree to float32 rounding
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-5)
        assert a.train_parts.keys() == b.train_parts.keys()
    assert ha[-1].train_loss < ha[0].train_loss


def test_first_layer_is_stored_transposed_but_reads_normally():
    model = DenseAutoencoder(64, 6, generator=torch.Generator().manual_seed(1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    CompiledDenseStep(model, ReconstructionObjective(), 1e-3)
    w = model.encoder[0].weight
    assert w.shape == (6, 64) and w.T.is_contiguous() and not w.is_contiguous()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("threads", [1, 2])
def test_compiled_state_round_trip_continues_identically(threads):
    x = images()

    def fresh():
        model = DenseAutoencoder(64, 6, generator=torch.Generator().manual_seed(1))
        return Trainer(
            model,
            objective_for(0.0),
            batch_size=16,
            epochs=2,
            learning_rate=1e-2,
            generator=torch.Generator().manual_seed(2),
            quiet=True,
            engine="fused",
            threads=threads,
        )

    straight = fresh()
    straight.fit(x)
    first = fresh()
    first.epochs = 1
    first.fit(x)
    tensors, info = trainer_state(first)
    second = fresh()
    restore_trainer_state(second, tensors, info)
    second.fit(x)
    assert all(torch.equal(p, q) for p, q in zip(straight.model.parameters(), second.model.parameters()))
    assert [r.train_loss for r in straight.position.history] == [r.train_loss for r in second.position.history]


def test_compiled_engine_stops_on_nan_data():
    from aelab.errors import TrainingError

    x = images(64)
    x[40, 3] = float("nan")
    model = DenseAutoencoder(64, 6)
    trainer = Trainer(
        model,
        objective_for(0.0),
        batch_size=16,
        epochs=1,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine="fused",
    )
    with pytest.raises(TrainingError, match=r"epoch 1, step \d: training loss became nan"):
        trainer.fit(x)


class WeightedBCE(ReconstructionObjective):
    """An objective the compiled step does not know (a subclass is not the objective it computes)."""

    def __call__(self, logits, code, target):
        loss, parts = super().__call__(logits, code, target)
        return 2 * loss, parts


@pytest.mark.parametrize("objective", [WeightedBCE(), lambda logits, code, target: (logits.mean(), {})])
def test_compiled_step_refuses_an_objective_it_does_not_compute(objective):
    model = DenseAutoencoder(64, 6)
    with pytest.raises(
        EngineError, match=r"^compiled step: objective \w+ is not one it computes; expected .*autograd"
    ) as error:
        make_step("fused", model, objective, 1e-3)
    assert "\n" not in str(error.value)
    assert isinstance(make_step("autograd", model, objective, 1e-3), AutogradStep)  # the reference computes anything


def test_compiled_step_refuses_a_model_it_does_not_compute():
    class Wider(DenseAutoencoder):
        pass

    with pytest.raises(EngineError, match=r"^compiled step: model Wider is not one it computes"):
        make_step("fused", Wider(64, 6), SparseObjective(1e-3), 1e-3)
    with pytest.raises(EngineError, match=r"^engine 'jax': expected one of compiled, autograd"):
        make_step("jax", DenseAutoencoder(64, 6), ReconstructionObjective(), 1e-3)


def test_the_compiled_path_runs_where_a_compiler_is_and_says_so():
    """CI has a C compiler, so the package build compiled the kernels: the engine must not fall back there."""
    record = make_step("fused", DenseAutoencoder(64, 6), ReconstructionObjective(), 1e-3).describe()
    if shutil.which("cc") or shutil.which("gcc"):
        assert library.unavailable_reason() is None
        assert record["engine"] == "compiled" and record["compiled"] is True
        assert record["blas"]["library"] in ("openblas", "mkl") and record["blas"]["interface"]
        assert record["isa"] and record["sgemm_module"]  # the file holding the sgemm the kernels call (dladdr)
    else:  # no compiler: the reference runs, and the record says why
        assert record["engine"] == "autograd" and "not built" in record["fallback"]


def test_two_trainers_with_two_threads_each_share_the_compiled_helper_safely():
    """aelab reproduce trains two models at once; with threads=2 both use kernels.c's one helper thread,
    taken in turn: each model ends exactly as it does when trained alone."""
    from concurrent.futures import ThreadPoolExecutor

    alone = [trained("fused", (16,), threads=2)[0], trained("fused", (), l1=1e-3, threads=2)[0]]
    with ThreadPoolExecutor(2) as pool:
        together = [
            f.result()[0]
            for f in [
                pool.submit(trained, "fused", (16,), threads=2),
                pool.submit(trained, "fused", (), l1=1e-3, threads=2),
            ]
        ]
    for a, b in zip(alone, together):
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_threads_zero_uses_two_for_a_model_alone_and_one_inside_parallel_steps():
    """The default (0) takes the second core only where PyTorch has it: `aelab run`'s workers hold one thread each."""
    from aelab.config import TrainConfig
    from aelab.train.step import torch_threads

    assert TrainConfig().threads == 0
    model = DenseAutoencoder(12, 3, (), generator=torch.Generator().manual_seed(0))
    for torch_count, expected in ((1, 1), (2, 2), (4, 2)):
        with torch_threads(torch_count):
            step = make_step("fused", model, ReconstructionObjective(), 1e-3, threads=0)
        assert step.describe()["threads"] == expected
        assert make_step("fused", model, ReconstructionObjective(), 1e-3, threads=1).describe()["threads"] == 1
