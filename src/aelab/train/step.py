"""One training step, two ways to compute it: the interface the trainer and the sweep use.

`Step` is what `Trainer` calls once per batch: (target, inputs) → (loss, parts), an `optimizer`
whose state checkpoints hold, `evaluate` for the test set, and `describe()` — the record of which
engine ran (and with which BLAS and instruction set), written into every run's config.json.

Two implementations:
  - `AutogradStep`: model → objective → autograd → torch.optim.Adam. Any model, any objective; the
    reference every other path is tested against.
  - the compiled steps (train/compiled/dense.py for a dense model, train/compiled/sweep.py for a sweep): built
    *from* the model and the objective, they refuse (`EngineError`) what they cannot compute.

`train.engines.make_step` picks one by the configuration's engine name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use `n` intra-op threads of PyTorch inside the block (None: unchanged).

    The compiled steps hold PyTorch to one thread while they train: its few operations per step
    (slicing a batch, the finiteness checks) are too small to split, and PyTorch's idle OpenMP workers
    spin after each parallel operation, taking the core the compiled step runs on (measured: the deep
    model's epoch took 3× the CPU time with two torch threads).
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def adam(model: nn.Module, learning_rate: float, capturable: bool = False) -> torch.optim.Adam:
    """Adam with Keras' defaults (β 0.9/0.999, ε 1e-7), so that results compare with the study.

    `capturable` keeps its step counts on the GPU, as a CUDA graph needs (train/captured.py)."""
    return torch.optim.Adam(
        model.parameters(), lr=learning_rate, betas=(0.9, 0.999), eps=1e-7, foreach=True, capturable=capturable
    )


class Step:
    """One optimiser step on one batch; subclasses compute it, the trainer only calls it.

    Attributes every step has: `model`, `objective` and `optimizer` (with `state_dict` and
    `load_state_dict`, so that checkpoints restore it exactly).
    """

    model: nn.Module
    objective: object
    optimizer: object

    def __call__(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[torch.Tensor | float, dict]:
        """Train on one batch: the model sees `inputs`, the loss compares with the clean `target`."""
        raise NotImplementedError

    def run_steps(
        self,
        data: torch.Tensor,
        inputs: torch.Tensor | None,
        rows: torch.Tensor,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[tuple[torch.Tensor | float, dict]]:
        """Train on several batches in turn: batch s is rows `rows[s]` ((steps, b) indices) of `data` (the clean
        targets), the model seeing the same rows of `inputs` (None: of `data`). Returns each step's (loss, parts) as
        `__call__` does, for the steps taken: this default takes them one by one and stops early once `should_stop()`
        says so; a compiled step takes them all in one call (Python between steps costs there:
        train/compiled/dense.py)."""
        results = []
        for batch_rows in rows:
            target = data.index_select(0, batch_rows)  # ~2× faster than data[batch_rows]
            results.append(self(target, target if inputs is None else inputs.index_select(0, batch_rows)))
            if should_stop():
                break
        return results

    @torch.no_grad()
    def evaluate(self, target: torch.Tensor, inputs: torch.Tensor | None, batch_size: int) -> float:
        """Mean objective over `target` (the model sees `inputs` if given), chunk by chunk."""
        self.model.eval()
        inputs = target if inputs is None else inputs
        total = 0.0
        for i in range(0, len(target), batch_size):
            logits, code = self.model(inputs[i : i + batch_size])
            loss, _ = self.objective(logits, code, target[i : i + batch_size])
            total += loss.item() * len(logits)
        return total / len(target)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Settings held while training (threads of the libraries the step calls); none by default."""
        yield

    def describe(self) -> dict:
        """Which engine computes the step, for config.json and the report."""
        raise NotImplementedError


class AutogradStep(Step):
    """The reference: the model's forward pass, the objective, autograd and torch.optim.Adam."""

    keep_gradients = False  # True: gradients are zeroed in place, never freed (a CUDA graph holds their addresses)

    def __init__(
        self,
        model: nn.Module,
        objective,
        learning_rate: float,
        fallback_reason: str | None = None,
        device: torch.device | None = None,
    ):
        self.model, self.objective = model, objective
        self.optimizer = adam(model, learning_rate)
        self.fallback_reason = fallback_reason  # why the compiled step was asked for but not used, or None
        self.device = device  # None: the CPU, recorded as before; else a GPU, named in describe()

    def __call__(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[torch.Tensor, dict]:
        logits, code = self.model(inputs)
        loss, parts = self.objective(logits, code, target)
        self.optimizer.zero_grad(set_to_none=not self.keep_gradients)
        loss.backward()
        self.optimizer.step()
        return loss, parts

    def describe(self) -> dict:
        record = {"engine": "autograd", "blas": f"PyTorch {torch.__version__}", "threads": torch.get_num_threads()}
        if self.fallback_reason:
            record["fallback"] = self.fallback_reason
        if self.device is not None:
            record["device"] = self.device.type
        return record
