"""One trainer for every autoencoder: it knows the data, the optimiser and the loop, not the model.

The model is any module mapping a batch to (logits, code); the objective maps (logits, code,
target) to (total, parts). The data stays as one resident tensor that is sliced per step: at batch
32 an epoch is ~1,875 tiny steps, so per-step overhead (a DataLoader's collation, Python-side
bookkeeping, a `.item()` sync per step) would dominate the arithmetic.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from aelab.errors import TrainingError
from aelab.train.progress import progress_bar

InputTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
REFRESH_EVERY = 50  # steps between progress updates; each update syncs the running loss


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch produced: mean training loss over its steps (as Keras reports it), test loss."""

    epoch: int
    train_loss: float
    test_loss: float | None
    seconds: float
    train_parts: dict[str, float | list[float]] = field(default_factory=dict)  # a part may be a vector (one per model of a batched sweep)


def adam(model: nn.Module, learning_rate: float) -> torch.optim.Adam:
    """Adam with Keras' defaults (β 0.9/0.999, ε 1e-7), so that results compare with the study."""
    return torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(0.9, 0.999), eps=1e-7, foreach=True)


class Trainer:
    """Mini-batch training with a seeded reshuffle every epoch.

    Args:
        model: module, batch (b, n_features) → (logits, code).
        objective: (logits, code, target) → (total loss, {part name: value}).
        batch_size, epochs, learning_rate: as in the study (32, 5 or 10, 1e-3).
        generator: the only source of randomness (batch order, input noise).
        input_transform: maps a clean batch to the model's input (denoising); the target stays clean.
    """

    def __init__(self, model: nn.Module, objective, *, batch_size: int, epochs: int, learning_rate: float,
                 generator: torch.Generator, input_transform: InputTransform | None = None, quiet: bool = False):
        self.model, self.objective = model, objective
        self.batch_size, self.epochs = batch_size, epochs
        self.generator, self.input_transform, self.quiet = generator, input_transform, quiet
        self.optimizer = adam(model, learning_rate)

    def fit(self, train_x: torch.Tensor, test_x: torch.Tensor | None = None,
            on_epoch_end: Callable[[EpochRecord], None] | None = None, *,
            train_inputs: torch.Tensor | None = None, test_inputs: torch.Tensor | None = None) -> list[EpochRecord]:
        """Train for `self.epochs` epochs; return one record per epoch.

        `train_inputs`/`test_inputs`, if given, are what the model sees in place of the clean
        `train_x`/`test_x` (row for row): pre-drawn noise, as the original denoising study used.
        """
        history = []
        for epoch in range(1, self.epochs + 1):
            start = time.perf_counter()
            train_loss, parts = self.train_epoch(train_x, epoch, train_inputs)
            test_loss = self.evaluate(test_x, test_inputs) if test_x is not None else None
            record = EpochRecord(epoch, train_loss, test_loss, time.perf_counter() - start, parts)
            history.append(record)
            if on_epoch_end is not None:
                on_epoch_end(record)
        return history

    def train_epoch(self, train_x: torch.Tensor, epoch: int,
                    train_inputs: torch.Tensor | None = None) -> tuple[float, dict[str, float | list[float]]]:
        """One pass in a fresh random order; returns the sample-weighted mean loss and parts."""
        self.model.train()
        n = len(train_x)
        order = torch.randperm(n, generator=self.generator)
        steps = math.ceil(n / self.batch_size)
        total = torch.zeros(())
        part_sums: dict[str, torch.Tensor] = {}  # parts may be scalars or vectors
        with progress_bar(steps, f"epoch {epoch}/{self.epochs}", self.quiet, unit="step") as bar:
            for step in range(steps):
                rows = order[step * self.batch_size:(step + 1) * self.batch_size]
                target = train_x[rows]
                loss, parts = self.step(target, None if train_inputs is None else train_inputs[rows])
                total += loss.detach() * len(target)
                for name, value in parts.items():
                    part_sums[name] = part_sums.get(name, 0.0) + value.detach() * len(target)
                if (step + 1) % REFRESH_EVERY == 0 or step + 1 == steps:
                    bar.update((step + 1) - bar.n)
                    bar.set_postfix(loss=f"{total.item() / min(n, (step + 1) * self.batch_size):.4f}")
        mean = total.item() / n
        if not math.isfinite(mean):
            raise TrainingError(f"epoch {epoch}: training loss became {mean}: expected a finite loss (lower the learning rate or check the data)")
        return mean, {name: (value / n).tolist() for name, value in part_sums.items()}

    def step(self, target: torch.Tensor, inputs: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One optimiser step on one batch; the model sees `inputs` (default: the transformed
        target), the loss compares with the clean target."""
        if inputs is None:
            inputs = self.input_transform(target, self.generator) if self.input_transform else target
        logits, code = self.model(inputs)
        loss, parts = self.objective(logits, code, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss, parts

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, inputs: torch.Tensor | None = None, batch_size: int = 10_000) -> float:
        """Mean objective over `x` (the model sees `inputs` if given, e.g. noisy test images)."""
        self.model.eval()
        inputs = x if inputs is None else inputs
        total = 0.0
        for i in range(0, len(x), batch_size):
            logits, code = self.model(inputs[i:i + batch_size])
            loss, _ = self.objective(logits, code, x[i:i + batch_size])
            total += loss.item() * len(logits)
        return total / len(x)
