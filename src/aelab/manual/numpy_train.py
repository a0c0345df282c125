"""Train the simple autoencoder on its hand-derived gradients, with plain SGD or Adam, in NumPy.

The update rules follow torch.optim.SGD (no momentum, no weight decay) and torch.optim.Adam
(bias-corrected, no weight decay, no amsgrad) operation for operation, so
tests/test_manual_train.py can demand the same parameters as PyTorch after 200 steps from the same
start on the same batches — a check of the gradients over a whole trajectory, not one point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from aelab.errors import ConfigError, TrainingError
from aelab.manual.numpy_ae import Params, loss_and_gradients
from aelab.registries import lookup

Update = Callable[[Params, Params], Params]  # (params, gradients) → new params


def _map(fn: Callable[..., np.ndarray], *trees: Params) -> Params:
    """Apply fn to the matching arrays (W1 with W1, …) of several Params; a new Params."""
    first = trees[0].as_dict()
    for tree in trees[1:]:
        for name, array in tree.as_dict().items():
            if array.shape != first[name].shape:
                raise ConfigError(
                    f"{name} must have shape {first[name].shape} to match the parameters, got {array.shape}"
                )
    return Params(**{name: fn(*(tree.as_dict()[name] for tree in trees)) for name in first})


def sgd_step(params: Params, grads: Params, lr: float) -> Params:
    """θ ← θ − lr·g, for each array (torch.optim.SGD with its defaults)."""
    return _map(lambda p, g: p - lr * g, params, grads)


@dataclass(frozen=True)
class AdamState:
    """Adam's memory between steps: `step` taken so far (sets the bias correction), and the running
    first moment `m` and uncentred second moment `v` of the gradients, each shaped like Params."""

    step: int
    m: Params
    v: Params


def adam_init(params: Params) -> AdamState:
    """Zero moments and no steps, as torch.optim.Adam starts."""
    zeros = _map(np.zeros_like, params)
    return AdamState(step=0, m=zeros, v=zeros)


def adam_step(
    params: Params,
    grads: Params,
    state: AdamState,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[Params, AdamState]:
    """One Adam update; returns the new params and state (nothing is modified in place).

    m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², then θ ← θ − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε):
    the bias corrections undo the pull of the zero start, and ε sits outside the corrected root,
    exactly where torch.optim.Adam puts it, so the two agree to rounding.
    """
    t = state.step + 1
    m = _map(lambda m, g: beta1 * m + (1 - beta1) * g, state.m, grads)
    v = _map(lambda v, g: beta2 * v + (1 - beta2) * g * g, state.v, grads)
    step_size = lr / (1 - beta1**t)
    root_correction = math.sqrt(1 - beta2**t)
    new = _map(lambda p, m, v: p - step_size * (m / (np.sqrt(v) / root_correction + eps)), params, m, v)
    return new, AdamState(step=t, m=m, v=v)


def _sgd(lr: float, beta1: float, beta2: float, eps: float) -> Update:
    return lambda params, grads: sgd_step(params, grads, lr)


def _adam(lr: float, beta1: float, beta2: float, eps: float) -> Update:
    state: AdamState | None = None

    def update(params: Params, grads: Params) -> Params:
        nonlocal state  # the moments live in this closure, one per training run
        params, state = adam_step(params, grads, state or adam_init(params), lr, beta1, beta2, eps)
        return params

    return update


OPTIMIZERS: dict[str, Callable[[float, float, float, float], Update]] = {"sgd": _sgd, "adam": _adam}


def _check_settings(lr: float, beta1: float, beta2: float, eps: float) -> None:
    """Raise ConfigError for settings torch.optim would refuse (or that could only diverge)."""
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"lr must be a finite number > 0, got {lr!r}")
    for name, beta in (("beta1", beta1), ("beta2", beta2)):
        if not 0 <= beta < 1:
            raise ConfigError(f"{name} must be in [0, 1), got {beta!r}")
    if not (math.isfinite(eps) and eps >= 0):
        raise ConfigError(f"eps must be a finite number ≥ 0, got {eps!r}")


def train(
    params: Params,
    batches: Iterable[np.ndarray],
    optimizer: str = "sgd",
    lr: float = 0.01,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[Params, list[float]]:
    """One optimizer step per batch (each (n, D), or a (steps, n, D) array); returns the final
    params and the loss of each batch, measured before its step (as a torch loop reports it).

    beta1, beta2 and eps are Adam's and ignored by SGD. Raises TrainingError on a non-finite loss,
    the sign of a learning rate too large for this model.
    """
    _check_settings(lr, beta1, beta2, eps)
    update = lookup(optimizer, OPTIMIZERS, "optimizer")(lr, beta1, beta2, eps)
    losses = []
    for step, X in enumerate(batches):
        value, grads = loss_and_gradients(params, X)
        if not math.isfinite(value):
            raise TrainingError(
                f"loss is {value} at step {step} with lr={lr}: expected a finite loss (try a smaller lr)"
            )
        losses.append(value)
        params = update(params, grads)
    return params, losses
