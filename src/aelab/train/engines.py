"""The engine a configuration names, built for its model and objective (train/step.py's interface).

"compiled" asks for the compiled step: train/compiled/dense.py for a dense model, train/compiled/sweep.py for a
sweep, train/compiled/vae.py for a dense VAE; each refuses (`EngineError`) a model or objective it does
not compute. Where the compiled kernels are not built (no C compiler when the package was installed, or
AELAB_NATIVE=0) the autograd step runs instead, with a warning, and its `describe()` says why — a fallback
is recorded in every run's config.json, never silent. "autograd" is the reference. "fused", the compiled
step's name before, still reads, with a deprecation warning.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from aelab.errors import EngineError
from aelab.models.batched import BatchedDenseAutoencoder
from aelab.models.dense import DenseAutoencoder
from aelab.models.variational import DenseVAE
from aelab.native.library import unavailable_reason
from aelab.objectives import MSEObjective
from aelab.settings.training import ENGINE, ENGINES
from aelab.train.captured import device_step
from aelab.train.compiled.dense import CompiledDenseStep
from aelab.train.compiled.sweep import CompiledSweepStep
from aelab.train.compiled.vae import CompiledVAEStep
from aelab.train.step import AutogradStep, Step

ENGINE_NAMES = ENGINES  # as configurations name them (settings.ENGINE)
MSE_FALLBACK = "the compiled step computes BCE only; an MSE objective trains with autograd"


def make_step(
    engine: str,
    model: nn.Module,
    objective,
    learning_rate: float,
    threads: int = 1,
    device: torch.device | None = None,
    batch_size: int | None = None,
) -> Step:
    """The step `engine` names for this model and objective; `threads` (1 or 2) for the compiled step.

    `device` (default: the CPU) other than the CPU gets train/captured.py's `device_step`.
    `threads` 0 chooses: two when PyTorch has two or more threads here, that is a model trained alone
    on a machine with two or more cores (both measured faster: BENCHMARKS.md), and one inside `aelab
    run`'s parallel steps, which hold PyTorch to one thread each so that they do not share a core.
    `batch_size` lets a dense model's compiled step choose how two threads share it (fused.two_thread_split).
    """
    engine = ENGINE.current(engine)  # "fused", its name before: with a DeprecationWarning
    if device is not None and device.type != "cpu":  # the compiled kernels read CPU memory: train/captured.py
        return device_step(engine, model, objective, learning_rate, device)
    threads = threads or min(torch.get_num_threads(), 2)
    if engine == "autograd":
        return AutogradStep(model, objective, learning_rate)
    if engine != "compiled":
        raise EngineError(f"engine {engine!r}: expected one of {', '.join(ENGINE_NAMES)}")
    if not isinstance(model, (DenseAutoencoder, BatchedDenseAutoencoder, DenseVAE)):
        return AutogradStep(model, objective, learning_rate, fallback_reason=autograd_only(model))
    if isinstance(objective, MSEObjective):  # the compiled step computes BCE (+ L1) only; no MSE kernels
        return AutogradStep(model, objective, learning_rate, fallback_reason=MSE_FALLBACK)
    reason = unavailable_reason()
    if reason is not None:
        warnings.warn(
            f"aelab: the compiled step is not available ({reason}); training with autograd instead", stacklevel=2
        )
        return AutogradStep(model, objective, learning_rate, fallback_reason=reason)
    if isinstance(model, DenseVAE):
        return CompiledVAEStep(model, objective, learning_rate, threads=threads)
    if isinstance(model, BatchedDenseAutoencoder):
        return CompiledSweepStep(model, objective, learning_rate, threads=threads)
    return CompiledDenseStep(model, objective, learning_rate, threads=threads, batch_size=batch_size)


def autograd_only(model: nn.Module) -> str:
    """Why a model trains on autograd although the compiled step was asked for (recorded in config.json).

    The compiled steps compute dense autoencoders on BCE (+ L1) and dense VAEs (train/compiled/vae.py); the
    convolutional families are autograd's until a compiled step exists for them.
    """
    return (
        f"the compiled step computes dense autoencoders only (plain or variational); {type(model).__name__} "
        "trains on autograd (no compiled step for convolutional models yet)"
    )
