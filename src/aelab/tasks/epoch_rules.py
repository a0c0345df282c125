"""What the Python API does at the end of every epoch: report it, call the user's callbacks, stop early.

Keras and Lightning users expect `verbose`, `callbacks` and early stopping on the validation loss;
all three hang on the Trainer's one per-epoch hook (`Trainer.fit(on_epoch_end=...)`), whose True
ends training as finished (not interrupted: the run is complete, only shorter), so there is no
second training loop.

Early stopping (Keras' EarlyStopping(patience=p, restore_best_weights=True)): training stops when
the validation loss has not improved on its best for `patience` epochs; the model's weights are then
those of the best epoch (the lowest validation loss; the first such epoch on a tie), restored after
training. The history keeps every epoch trained; the optimiser's state is the last epoch's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict

import torch

from aelab.errors import ConfigError
from aelab.models.variational import VariationalAutoencoder
from aelab.train.trainer import EpochRecord


class EpochRules:
    """The per-epoch hook of a fit: a progress line (verbose ≥ 1), callbacks, early stopping with the best weights."""

    def __init__(
        self,
        model: torch.nn.Module,
        epochs: int,
        verbose: int,
        patience: int | None,
        callbacks: Sequence[Callable[[dict], object]] | None,
    ):
        self.model, self.epochs, self.verbose, self.patience = model, epochs, verbose, patience
        self.callbacks = list(callbacks or ())
        self.best_loss, self.best_epoch, self.best_state = float("inf"), None, None
        self.stopped_epoch = None

    def __call__(self, record: EpochRecord) -> bool:
        """True: stop training after this epoch (a callback returned True, or the patience ran out)."""
        if self.verbose:
            print(epoch_line(record, self.epochs, self.model), file=sys.stderr, flush=True)
        stop = self.early_stop(record)
        entry = asdict(record)
        for callback in self.callbacks:
            stop = bool(callback(dict(entry))) or stop  # a copy each: one callback cannot change what the next sees
        if stop:
            self.stopped_epoch = record.epoch
        return stop

    def early_stop(self, record: EpochRecord) -> bool:
        """Keep the best epoch's weights (copied to the CPU); True once `patience` epochs have not improved on it."""
        if self.patience is None:
            return False
        if record.test_loss is None:
            raise ConfigError(
                "early_stopping_patience: needs a validation loss: expected X_test= or validation_fraction > 0"
            )
        if record.test_loss < self.best_loss:
            self.best_loss, self.best_epoch = record.test_loss, record.epoch
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        return record.epoch - self.best_epoch >= self.patience

    def restore_best(self) -> None:
        """The best epoch's weights back into the model (with early stopping); nothing otherwise."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


def epoch_line(record: EpochRecord, epochs: int, model: torch.nn.Module, held_out: str = "validation") -> str:
    """One epoch's line, `held_out` naming the held-out loss ("test" for `aelab train`, "validation" in Python);
    "no validation" where there was none (never a training loss as one); a VAE's loss said to be −ELBO."""
    test = f"no {held_out}" if record.test_loss is None else f"{held_out} {record.test_loss:.4f}"
    unit = "  (−ELBO, nats per image)" if isinstance(model, VariationalAutoencoder) else ""
    return f"epoch {record.epoch}/{epochs}  train {record.train_loss:.4f}  {test}  {record.seconds:.1f} s{unit}"
