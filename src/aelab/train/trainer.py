"""One trainer for every autoencoder: it knows the data and the loop, not the model or how a step is computed.

The model is any module mapping a batch to (logits, code); the objective maps (logits, code,
target) to (total, parts); the engine (train/step.py's `Step`, built by train/engines.py) computes a
step from them — autograd, or the compiled step — and the trainer only calls it. The data stays as
one resident tensor that is sliced per step: at batch 32 an epoch is ~1,875 tiny steps, so per-step
overhead (a DataLoader's collation, Python-side bookkeeping) would dominate the arithmetic.

Where training stands (epoch, step, this epoch's order, the running sums) lives in `position`, so
`train.state.trainer_state` can capture it after any step and a resumed run continues bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from aelab.devices import deterministic_mode, resolve_device
from aelab.errors import AelabError, TrainingError
from aelab.train.engines import make_step
from aelab.train.progress import progress_bar
from aelab.train.step import Step

InputTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
REFRESH_EVERY = 50  # steps between progress updates and parameter finiteness checks; the longest run of steps
REFRESH_SECONDS = (
    0.5  # …or this long, whichever comes first: a conv step takes ~0.2 s, and 50 of them sat at 0% for 9 s
)


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch produced: mean training loss over its steps (as Keras reports it), test loss."""

    epoch: int
    train_loss: float
    test_loss: float | None
    seconds: float
    train_parts: dict[str, float | list[float]] = field(
        default_factory=dict
    )  # a part may be a vector (one per model of a batched sweep)


@dataclass
class Position:
    """Where training stands: the epoch in progress, its next step, its order and running sums."""

    epoch: int = 1
    step: int = 0
    order: torch.Tensor | None = None  # this epoch's permutation, None until the epoch starts
    total: float = 0.0  # Σ batch loss × batch size, in float64
    part_sums: dict[str, float | torch.Tensor] = field(
        default_factory=dict
    )  # scalar parts as floats, vector parts as tensors
    seconds: float = 0.0  # time spent in this epoch so far
    history: list[EpochRecord] = field(default_factory=list)


class TrainingInterrupted(AelabError):
    """A stop was requested (SIGINT/SIGTERM); raised after the current step (a compiled step's current run of at most
    REFRESH_EVERY steps, tens of milliseconds), with `position` consistent."""

    exit_code = 130


@contextmanager
def flush_denormals() -> Iterator[None]:
    """Treat denormal floats as zero while training (as TensorFlow does by default on the CPU).

    Adam's second moments of tiny gradients fall into the denormal range, where every arithmetic
    operation is ~100× slower: without this, a batched sweep ran 15× slower (benchmarks/). The flag
    only affects numbers below 1.2e-38, far under anything that changes a loss.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@contextmanager
def on_cpu_after(model: nn.Module) -> Iterator[None]:
    """The model back on the CPU when training ends (or stops): what follows training reads CPU tensors."""
    try:
        yield
    finally:
        model.to("cpu")


class Trainer:
    """Mini-batch training with a seeded reshuffle every epoch.

    Args:
        model: module, batch (b, n_features) → (logits, code).
        objective: (logits, code, target) → (total loss, {part name: value}).
        batch_size, epochs, learning_rate: as in the study (32, 5 or 10, 1e-3).
        generator: the only source of randomness (batch order, input noise).
        input_transform: maps a clean batch to the model's input (denoising); the target stays clean.
        engine: "autograd" (the reference) or "compiled" (the compiled step; train/engines.py).
        threads: threads of the compiled step (1, or 2 to split each step's work over two cores; 0: two when
            PyTorch has them here, see train.engines.make_step).
        clean_epochs: the first epochs train on clean inputs, noise (input_transform or fit's train_inputs) only
            after them: the Keras conv example trains one model clean, then as a denoiser.
        device: where the model and the data live while `fit` runs ("cpu", "cuda", "mps", "auto" or a torch.device);
            `fit` returns the model on the CPU, so that everything after training (metrics, figures, saving) is the
            CPU's.
        deterministic: PyTorch's deterministic algorithms while training (aelab.devices.deterministic_mode).
    """

    def __init__(
        self,
        model: nn.Module,
        objective,
        *,
        batch_size: int,
        epochs: int,
        learning_rate: float,
        generator: torch.Generator,
        input_transform: InputTransform | None = None,
        quiet: bool = False,
        engine: str = "autograd",
        threads: int = 1,
        clean_epochs: int = 0,
        device: str | torch.device = "cpu",
        deterministic: bool = False,
    ):
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.deterministic = deterministic
        model.to(self.device)  # before the optimiser is made: its state lives beside the parameters
        self.model, self.objective = model, objective
        self.batch_size, self.epochs = batch_size, epochs
        self.generator, self.input_transform, self.quiet = generator, input_transform, quiet
        self.engine: Step = make_step(
            engine, model, objective, learning_rate, threads, device=self.device, batch_size=batch_size
        )
        self.optimizer = self.engine.optimizer
        self.position = Position()
        self.clean_epochs = clean_epochs
        self.stop_requested = False
        # A compiled step takes a run of steps in one call (Python between steps costs there); the autograd step takes
        # them one by one anyway, so it is handed one at a time and the bar moves with each (REFRESH_SECONDS).
        self.run_length = REFRESH_EVERY if type(self.engine).run_steps is not Step.run_steps else 1
        self.refreshed = time.perf_counter()

    def request_stop(self) -> None:
        """Ask training to stop after the current step, or run of steps (safe to call from a signal handler)."""
        self.stop_requested = True

    def fit(
        self,
        train_x: torch.Tensor,
        test_x: torch.Tensor | None = None,
        on_epoch_end: Callable[[EpochRecord], bool | None] | None = None,
        *,
        train_inputs: torch.Tensor | None = None,
        test_inputs: torch.Tensor | None = None,
    ) -> list[EpochRecord]:
        """Train until `self.epochs` epochs are done (continuing from `position`); return every epoch's record.

        `train_inputs`/`test_inputs`, if given, are what the model sees in place of the clean
        `train_x`/`test_x` (row for row): pre-drawn noise, as the original denoising study used.
        `on_epoch_end(record)` runs after each epoch; a True return ends training there (early stopping), which,
        unlike `request_stop`, is a finished fit: no TrainingInterrupted, the history ends at that epoch.
        """
        pos = self.position
        train_x, test_x, train_inputs, test_inputs = (
            None if t is None else t.to(self.device)  # resident there; no copy on the CPU
            for t in (train_x, test_x, train_inputs, test_inputs)
        )
        self.model.to(self.device)
        with (
            flush_denormals(),
            deterministic_mode(self.deterministic, self.device),
            self.engine.running(),
            on_cpu_after(self.model),
        ):
            while pos.epoch <= self.epochs:
                start = time.perf_counter()
                noisy = pos.epoch > self.clean_epochs
                train_loss, parts = self.train_epoch(train_x, pos.epoch, train_inputs if noisy else None)
                # clean epochs validate on clean test images too, as the Keras denoising example's first phase does
                test_loss = self.evaluate(test_x, test_inputs if noisy else None) if test_x is not None else None
                record = EpochRecord(pos.epoch, train_loss, test_loss, pos.seconds + time.perf_counter() - start, parts)
                pos.history.append(record)
                self.position = pos = Position(epoch=pos.epoch + 1, history=pos.history)
                if on_epoch_end is not None and on_epoch_end(record):
                    break  # the caller's rule (early stopping, a callback) ends training: finished, not interrupted
        return pos.history

    def train_epoch(
        self, train_x: torch.Tensor, epoch: int, train_inputs: torch.Tensor | None = None
    ) -> tuple[float, dict[str, float | list[float]]]:
        """One pass in a fresh random order (or the rest of an interrupted one); returns the
        sample-weighted mean loss and parts."""
        self.model.train()
        pos, n = self.position, len(train_x)
        if pos.order is None:
            pos.order = torch.randperm(n, generator=self.generator)
        order = pos.order.to(train_x.device)  # drawn on the CPU (the generator's), so every device sees the same order
        steps = math.ceil(n / self.batch_size)
        started = time.perf_counter() - pos.seconds
        # noise drawn per step (the trainer's generator, in step order) needs Python between steps; else the steps up
        # to the next refresh go to the engine at once (a compiled step runs them in one call, train/compiled/dense.py)
        per_step = self.input_transform is not None and epoch > self.clean_epochs and train_inputs is None
        with progress_bar(steps, f"epoch {epoch}/{self.epochs}", self.quiet, unit="step", initial=pos.step) as bar:
            while pos.step < steps:
                first = pos.step * self.batch_size
                if per_step:
                    rows = order[first : first + self.batch_size]
                    results = [self.step(train_x.index_select(0, rows), None)]  # ~2× faster than train_x[rows]
                    sizes = [len(rows)]
                else:
                    end = min((pos.step // self.run_length + 1) * self.run_length, steps)
                    whole = min(end, n // self.batch_size)  # steps of a whole batch; the epoch's last may be shorter
                    results, sizes = [], []
                    if whole > pos.step:
                        rows = order[first : whole * self.batch_size].view(whole - pos.step, self.batch_size)
                        results = self.engine.run_steps(train_x, train_inputs, rows, lambda: self.stop_requested)
                        sizes = [self.batch_size] * len(results)
                    if end > whole and len(results) == whole - pos.step and not self.stop_requested:
                        rows = order[whole * self.batch_size :].view(1, -1)
                        results += self.engine.run_steps(train_x, train_inputs, rows)
                        sizes.append(rows.shape[1])
                for (loss, parts), size in zip(results, sizes):
                    self.accumulate(loss, parts, size, epoch)
                self.refresh(bar, epoch, steps, n)
                if self.stop_requested:
                    pos.seconds = time.perf_counter() - started
                    raise TrainingInterrupted(f"interrupted at epoch {epoch}, step {pos.step} of {steps}")
        return pos.total / n, {
            name: value / n if isinstance(value, float) else (value / n).tolist()
            for name, value in pos.part_sums.items()
        }

    def refresh(self, bar, epoch: int, steps: int, n: int) -> None:
        """Every REFRESH_EVERY steps or REFRESH_SECONDS, and at the epoch's end: parameters checked, the bar moved."""
        pos, now = self.position, time.perf_counter()
        if pos.step % REFRESH_EVERY == 0 or pos.step == steps or now - self.refreshed >= REFRESH_SECONDS:
            self.check_parameters(epoch)
            bar.update(pos.step - bar.n)
            bar.set_postfix(loss=f"{pos.total / min(n, pos.step * self.batch_size):.4f}")
            self.refreshed = now

    def accumulate(
        self, loss: torch.Tensor | float, parts: dict[str, torch.Tensor | float], batch: int, epoch: int
    ) -> None:
        """Add one step's loss to the running sums (Python floats: no tensor op per step for scalars);
        a non-finite loss stops training at once. A compiled step hands over Python floats already."""
        pos = self.position
        value = loss if isinstance(loss, float) else loss.item()
        if not math.isfinite(value):
            raise TrainingError(
                f"epoch {epoch}, step {pos.step + 1}: training loss became {value}: expected a finite "
                "loss (the learning rate may be too high, or the data holds NaN/inf)"
            )
        pos.total += value * batch
        for name, part in parts.items():
            if isinstance(part, float):
                pos.part_sums[name] = pos.part_sums.get(name, 0.0) + part * batch
            elif part.dim() == 0:
                pos.part_sums[name] = pos.part_sums.get(name, 0.0) + part.item() * batch
            else:  # a vector part: its sum stays on the CPU (as checkpoints hold it), added to in place
                weighted = part.detach().cpu() * batch
                total = pos.part_sums.get(name)
                if isinstance(total, torch.Tensor) and total.dtype == weighted.dtype and total.shape == weighted.shape:
                    total.add_(weighted)
                else:
                    pos.part_sums[name] = weighted if total is None else total + weighted
        pos.step += 1

    def check_parameters(self, epoch: int) -> None:
        """Non-finite gradients show up as non-finite parameters after the update; stop if any.

        First one sum per parameter (NaN or ±inf anywhere makes the total non-finite), not an elementwise mask per
        parameter, which took 3.5% of a deep model's epoch; only a non-finite total (or a sum overflowing past
        3.4e38 with every value finite) looks value by value, to name the parameter."""
        params = list(self.model.named_parameters())
        if math.isfinite(torch.stack([p.detach().sum() for _, p in params]).sum().item()):
            return
        for name, p in params:
            if not torch.isfinite(p).all():
                raise TrainingError(
                    f"epoch {epoch}, by step {self.position.step}: parameter {name} became non-finite: "
                    "expected finite gradients (the learning rate may be too high)"
                )

    def step(
        self, target: torch.Tensor, inputs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One optimiser step on one batch; the model sees `inputs` (default: the transformed
        target), the loss compares with the clean target."""
        if inputs is None:
            noisy = self.input_transform is not None and self.position.epoch > self.clean_epochs
            inputs = self.input_transform(target, self.generator) if noisy else target
        return self.engine(target, inputs)

    def evaluate(self, x: torch.Tensor, inputs: torch.Tensor | None = None, batch_size: int = 10_000) -> float:
        """Mean objective over `x` (the model sees `inputs` if given, e.g. noisy test images)."""
        device = next(self.model.parameters()).device  # the trainer's device until a fit ends, the CPU after it
        x, inputs = x.to(device), None if inputs is None else inputs.to(device)
        return self.engine.evaluate(x, inputs, batch_size)


def history_as_dicts(history: list[EpochRecord]) -> list[dict]:
    return [asdict(r) for r in history]
