"""The dense VAE's compiled step computes what the model's forward pass, VariationalObjective, autograd and
torch.optim.Adam compute: step by step (loss, parts, every gradient), over whole runs, and across a resume."""

from __future__ import annotations

import copy

import pytest
import torch

from aelab.data.noise import corruption
from aelab.errors import EngineError
from aelab.models.dense import DenseAutoencoder
from aelab.models.variational import DenseVAE
from aelab.objectives import ReconstructionObjective, VariationalObjective
from aelab.train import trainer as trainer_module
from aelab.train.compiled.vae import CompiledVAEStep
from aelab.train.engines import make_step
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.step import AutogradStep
from aelab.train.trainer import Trainer, TrainingInterrupted
from aelab.train.vae_metrics import variational_metrics

D = 64


def images(n=256, d=D, seed=0) -> torch.Tensor:
    """Smooth synthetic 'images' in (0, 1): a rank-4 pattern through a sigmoid, so a small code can learn them."""
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, d, generator=g) - 1))


SHAPES = [  # (hidden sizes, code size, β, denoising noise)
    ((), 2, 1.0, None),
    ((), 32, 1.0, None),
    ((16,), 2, 2.5, None),
    ((16,), 32, 0.5, None),
    ((16, 8), 2, 4.0, None),
    ((16,), 2, 1.0, "gaussian"),
]


@pytest.mark.parametrize("threads", [1, 2], ids=["one-thread", "two-threads"])
@pytest.mark.parametrize("hidden, code_size, beta, noise", SHAPES)
def test_each_step_matches_autograd_loss_parts_and_every_gradient(hidden, code_size, beta, noise, threads):
    """Two copies of one model, one per engine, trained side by side on the same batches: each step's loss,
    parts and gradients agree, and so do the weights after each Adam update (the noise ε is the models' own
    seeded draw, identical in both because their noise buffers are). Two threads: two halves' gradients
    (15 rows: 8 and 7), added."""
    reference = DenseVAE(D, code_size, hidden, torch.Generator().manual_seed(1))
    compiled_model = copy.deepcopy(reference)
    objective = VariationalObjective(beta)
    autograd = AutogradStep(reference, objective, 1e-2)
    compiled = CompiledVAEStep(compiled_model, objective, 1e-2, threads=threads)
    transform, g = corruption(noise, 0.2) if noise else None, torch.Generator().manual_seed(0)
    x = images()
    for step in range(8):
        target = x[step * 15 : (step + 1) * 15]
        inputs = transform(target, g) if transform else target
        loss, parts = autograd(target, inputs)
        loss_c, parts_c = compiled.gradient(target, inputs)
        compiled.optimizer.advance()
        compiled.optimizer.update(0, compiled.optimizer.flat.numel(), two_shares=threads == 2)
        assert loss_c == pytest.approx(loss.item(), rel=1e-6), step
        assert parts_c["reconstruction"] == pytest.approx(parts["reconstruction"].item(), rel=1e-6)
        assert parts_c["kl"] == pytest.approx(parts["kl"].item(), rel=1e-5, abs=1e-6)
        assert torch.allclose(parts_c["kl_per_dim"], parts["kl_per_dim"], rtol=1e-5, atol=1e-6)
        assert parts_c["kl"] > 0 and (loss_c > parts_c["reconstruction"]) == (beta > 0)
        gradients = compiled.gradients()
        assert gradients.keys() == dict(reference.named_parameters()).keys()
        for name, p in reference.named_parameters():
            got, scale = gradients[name], p.grad.abs().max().item()
            assert got.shape == p.grad.shape and scale > 0, name
            assert (got - p.grad).abs().max().item() <= 1e-5 * scale, (
                f"step {step}, {name}: {(got - p.grad).abs().max():.2e}"
            )
        for (name, p), q in zip(reference.named_parameters(), compiled_model.parameters()):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), f"step {step}, {name}: {(p - q).abs().max():.2e}"
    assert int(reference.draws) == int(compiled_model.draws) == 8


def test_the_kl_gradient_reaches_the_head():
    """A mutation check: the same batch with β = 0 and β = 3 gives different head gradients by exactly
    3·(∂KL/∂head)/b."""
    model = DenseVAE(D, 4, (16,), torch.Generator().manual_seed(1))
    steps = {beta: CompiledVAEStep(copy.deepcopy(model), VariationalObjective(beta), 1e-3) for beta in (0.0, 3.0)}
    x = images(16)
    for step in steps.values():
        step.gradient(x, x)
    mean, log_var = model.posterior(x)  # the forward pass the compiled steps ran, unchanged weights
    d_mean, d_log_var = mean / 16, 0.5 * (log_var.exp() - 1) / 16  # (E8), the KL term's weight β/b with β = 1
    plain, heavy = steps[0.0].gradients(), steps[3.0].gradients()
    assert torch.allclose(heavy["mean.bias"] - plain["mean.bias"], 3 * d_mean.sum(0), atol=1e-5)
    assert torch.allclose(heavy["log_var.bias"] - plain["log_var.bias"], 3 * d_log_var.sum(0), atol=1e-5)
    assert torch.equal(heavy["decoder.0.weight"], plain["decoder.0.weight"])  # the KL term does not reach the decoder


def trainer(engine: str, hidden=(8,), code_size=2, beta=2.0, epochs=3, noise=None, x_dim=D, threads=1) -> Trainer:
    model = DenseVAE(x_dim, code_size, hidden, torch.Generator().manual_seed(0))
    run = Trainer(
        model,
        VariationalObjective(beta),
        batch_size=15,
        epochs=epochs,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(1),
        quiet=True,
        engine=engine,
        threads=threads,
        input_transform=corruption(noise, 0.2) if noise else None,
    )
    expected = CompiledVAEStep if engine == "fused" else AutogradStep
    assert type(run.engine) is expected, run.engine.describe()  # no silent fallback where the kernels are built
    return run


@pytest.mark.parametrize("threads", [1, 2], ids=["one-thread", "two-threads"])
@pytest.mark.parametrize("hidden, code_size, beta, noise", [((8,), 2, 2.0, None), ((), 32, 1.0, "gaussian")])
def test_whole_runs_match_the_autograd_engine(hidden, code_size, beta, noise, threads):
    """Batches of 15 over 256 images: odd halves with two threads, and a last batch of one row."""
    runs = {
        engine: trainer(engine, hidden, code_size, beta, noise=noise, threads=threads)
        for engine in ("autograd", "fused")
    }
    histories = {engine: run.fit(images(), images(64, seed=5)) for engine, run in runs.items()}
    for a, b in zip(histories["autograd"], histories["fused"]):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)
        assert b.test_loss == pytest.approx(a.test_loss, rel=1e-5)
        assert b.train_parts.keys() == a.train_parts.keys() == {"reconstruction", "kl", "kl_per_dim"}
        assert b.train_parts["kl"] == pytest.approx(a.train_parts["kl"], rel=1e-4)
        assert b.train_parts["kl_per_dim"] == pytest.approx(a.train_parts["kl_per_dim"], rel=1e-4, abs=1e-6)
    assert histories["fused"][-1].train_loss < histories["fused"][0].train_loss
    metrics = {engine: variational_metrics(run.model, images(64, seed=5)) for engine, run in runs.items()}
    assert metrics["fused"]["elbo"] == pytest.approx(metrics["autograd"]["elbo"], rel=1e-5)
    assert metrics["fused"]["active_dims"] == metrics["autograd"]["active_dims"]


@pytest.mark.slow
def test_a_short_run_on_real_mnist_matches_the_autograd_engine(real_data_dir):
    """784 → 64 → code 2 → 64 → 784 on 1,024 MNIST images, 2 epochs: the engines' metrics agree."""
    import aelab

    data = aelab.load_dataset("mnist", real_data_dir, progress=False)
    train, test = torch.tensor(data.train_images[:1024]), torch.tensor(data.test_images[:500])
    histories, elbos = {}, {}
    for engine in ("autograd", "fused"):
        run = trainer(engine, hidden=(64,), code_size=2, beta=1.0, epochs=2, x_dim=784)
        histories[engine] = run.fit(train, test)
        elbos[engine] = variational_metrics(run.model, test)["elbo"]
    for a, b in zip(histories["autograd"], histories["fused"]):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-4)
        assert b.test_loss == pytest.approx(a.test_loss, rel=1e-4)
        assert b.train_parts["kl"] == pytest.approx(a.train_parts["kl"], rel=1e-3)
    assert elbos["fused"] == pytest.approx(elbos["autograd"], rel=1e-4)
    assert (
        histories["fused"][-1].test_loss < histories["fused"][0].test_loss < 784 * 0.7
    )  # it learns: under the blank guess


def stop_at(run: Trainer, epoch: int, step: int) -> None:
    """Make `run` request a stop (as SIGINT would) once the run of steps that takes step `step` of epoch `epoch` is
    done: a compiled step takes a run of batches in one call, and the trainer sees a stop request between runs."""
    take_steps = run.engine.run_steps

    def counted(data, inputs, rows, should_stop=lambda: False):
        first = run.position.step
        out = take_steps(data, inputs, rows, should_stop)
        if run.position.epoch == epoch and first < step <= first + len(out):
            run.request_stop()
        return out

    run.engine.run_steps = counted


@pytest.mark.parametrize("threads", [1, 2], ids=["one-thread", "two-threads"])
@pytest.mark.parametrize("mid_epoch", [False, True], ids=["end-of-epoch", "mid-epoch"])
def test_a_resumed_compiled_run_continues_bit_for_bit(mid_epoch, threads, monkeypatch):
    monkeypatch.setattr(trainer_module, "REFRESH_EVERY", 5)  # runs of 5 steps: an epoch of 18 stops after its 5th
    x, test = images(), images(64, seed=5)
    whole = trainer("fused", threads=threads)
    whole.fit(x, test)
    first = trainer("fused", epochs=3 if mid_epoch else 1, threads=threads)
    if mid_epoch:
        stop_at(first, epoch=2, step=5)
        with pytest.raises(TrainingInterrupted):
            first.fit(x, test)
        assert (first.position.epoch, first.position.step) == (2, 5)
    else:
        first.fit(x, test)
    tensors, info = trainer_state(first)
    resumed = trainer("fused", threads=threads)
    restore_trainer_state(resumed, tensors, info)
    resumed.fit(x, test)
    assert all(
        torch.equal(a, b) for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values())
    )
    assert [r.train_loss for r in whole.position.history] == [r.train_loss for r in resumed.position.history]
    assert [r.train_parts for r in whole.position.history] == [r.train_parts for r in resumed.position.history]
    assert [r.test_loss for r in whole.position.history] == [r.test_loss for r in resumed.position.history]


def test_make_step_chooses_the_compiled_vae_step_and_records_it():
    model = DenseVAE(D, 2, (8,), torch.Generator().manual_seed(0))
    step = make_step("fused", model, VariationalObjective(4.0), 1e-3)
    assert type(step) is CompiledVAEStep
    record = step.describe()
    assert record["engine"] == "compiled" and record["compiled"] is True and record["threads"] == 1
    assert "fallback" not in record
    assert make_step("fused", model, VariationalObjective(), 1e-3, threads=2).describe()["threads"] == 2
    assert type(make_step("autograd", model, VariationalObjective(), 1e-3)) is AutogradStep


class WeightedELBO(VariationalObjective):
    """An objective the compiled step does not know (a subclass is not the objective it computes)."""


@pytest.mark.parametrize(
    "objective, message",
    [
        (
            WeightedELBO(),
            r"^compiled VAE step: objective WeightedELBO is not one it computes; expected VariationalObjective",
        ),
        (ReconstructionObjective(), r"^compiled VAE step: objective ReconstructionObjective is not one it computes"),
    ],
)
def test_the_compiled_vae_step_refuses_an_objective_it_does_not_compute(objective, message):
    model = DenseVAE(D, 2, (8,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(EngineError, match=message) as error:
        make_step("fused", model, objective, 1e-3)
    assert "\n" not in str(error.value)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing moved


def test_the_compiled_vae_step_refuses_other_models_and_thread_counts():
    class Wider(DenseVAE):
        pass

    with pytest.raises(EngineError, match=r"^compiled VAE step: model Wider is not one it computes"):
        make_step("fused", Wider(D, 2), VariationalObjective(), 1e-3)
    with pytest.raises(EngineError, match=r"^compiled VAE step: threads 3: expected 1 or 2"):
        make_step("fused", DenseVAE(D, 2), VariationalObjective(), 1e-3, threads=3)
    with pytest.raises(EngineError, match=r"^compiled VAE step: model DenseAutoencoder"):
        CompiledVAEStep(DenseAutoencoder(D, 2), VariationalObjective(), 1e-3)


def test_the_layout_keeps_the_parameters_readable():
    """The head's two layers share one block (x·[W_μ | W_ℓ] for a shallow model): the parameters still read as
    before."""
    for hidden in ((), (16,)):
        model = DenseVAE(D, 3, hidden, torch.Generator().manual_seed(1))
        before = {k: v.clone() for k, v in model.state_dict().items()}
        step = CompiledVAEStep(model, VariationalObjective(), 1e-3)
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert step.optimizer.flat.numel() == sum(p.numel() for p in model.parameters())
        assert model.mean.weight.shape == (3, hidden[0] if hidden else D)
