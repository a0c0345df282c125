"""The Python API's fit beyond `aelab train`'s settings: progress, validation, early stopping, callbacks — and the fit.

These are the estimator's own settings (no CLI option, no config.json field: they change how a fit
is watched and when it ends, not what a step computes), checked when the estimator is made like the
TrainConfig settings. `fit_model` trains with the recipe every door uses (recipe.py), so a fit that
runs all its epochs gives `aelab train`'s weights bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from aelab.config import TrainConfig
from aelab.errors import ConfigError
from aelab.runs.checkpointing import captured_state
from aelab.tasks.epoch_rules import EpochRules
from aelab.tasks.fit_dataset import FitData
from aelab.tasks.recipe import final_metrics, model_and_trainer, seeded_generators
from aelab.train.trainer import EpochRecord, history_as_dicts

HELP = {
    "verbose": "0: silent; 1: a progress bar (on a terminal) and one line per epoch on stderr, as `aelab train` "
    "prints; 2: the lines without the bar (Keras' convention)",
    "validation_fraction": "with arrays and no X_test: the fraction of X held out (seeded by `seed`) as validation "
    "data, scored after every epoch (history_'s test_loss) and by final_; 0: none (test_loss is None)",
    "early_stopping_patience": "stop when the validation loss has not improved for this many epochs, and restore "
    "the best epoch's weights (None: train every epoch)",
    "callbacks": "callables called after every epoch with its record (a dict: epoch, train_loss, test_loss, "
    "seconds, train_parts); one returning True stops training there; one raising ends fit with its error",
}


@dataclass(frozen=True)
class FitOptions:
    """How a fit is watched and when it ends; checked when made (one line naming the setting)."""

    verbose: int = 1
    validation_fraction: float = 0.1
    early_stopping_patience: int | None = None
    callbacks: Sequence[Callable[[dict], object]] | None = None

    def __post_init__(self) -> None:
        checks = {
            "verbose": (self.verbose in (0, 1, 2), "0, 1 or 2"),
            "validation_fraction": (
                _number(self.validation_fraction) and 0 <= self.validation_fraction < 1,
                "a number in [0, 1)",
            ),
            "early_stopping_patience": (
                self.early_stopping_patience is None
                or (_whole(self.early_stopping_patience) and self.early_stopping_patience >= 1),
                "a whole number ≥ 1, or None",
            ),
            "callbacks": (
                self.callbacks is None
                or (isinstance(self.callbacks, (list, tuple)) and all(callable(c) for c in self.callbacks)),
                "a list of callables, or None",
            ),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                value = getattr(self, name)
                raise ConfigError(
                    f"{name} {value!r}: expected {expected}", setting=name, value=value, expected=expected
                )


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class Fitted:
    """What a fit produced: the model (eval mode, the best epoch's weights with early stopping) and its record."""

    model: torch.nn.Module
    config: TrainConfig  # the config trained with (batch_size at most the training samples)
    history: list[dict]
    final: dict
    trainer_state: tuple[dict, dict]
    test_inputs: torch.Tensor | None  # a denoiser's fixed noisy validation inputs
    best_epoch: int | None  # with early stopping: the epoch whose weights the model holds
    stopped_epoch: int | None  # the epoch after which a callback or early stopping ended training


def fit_model(data: FitData, options: FitOptions) -> Fitted:
    """Train a model of `data.config` on `data` as `aelab train` does, watched by `options`.

    A `batch_size` above the training samples trains on all of them at once (one step per epoch), as Keras'
    fit and a DataLoader do, rather than refusing a small X; `Fitted.config` records the batch trained with."""
    config = data.config
    if options.early_stopping_patience is not None and data.test is None:
        raise ConfigError(
            f"early_stopping_patience {options.early_stopping_patience}: needs a validation loss: expected X_test= "
            "or validation_fraction > 0"
        )
    if config.batch_size > len(data.train):
        config = dataclasses.replace(config, batch_size=len(data.train))
    test_x = data.test if data.test is not None else data.train[:0]
    model, trainer, train_inputs, test_inputs = model_and_trainer(
        config, data.train, test_x, seeded_generators(config.seed), quiet=options.verbose != 1,
        sample_shape=data.description.sample_shape,
    )  # fmt: skip
    test_inputs = test_inputs if data.test is not None else None
    rules = EpochRules(model, config.epochs, options.verbose, options.early_stopping_patience, options.callbacks)
    history = trainer.fit(data.train, data.test, rules, train_inputs=train_inputs, test_inputs=test_inputs)
    state = captured_state(trainer)  # the last epoch's, as a resumed fit would continue from it
    rules.restore_best()
    model.eval()
    final = (
        training_metrics(history)
        if data.test is None
        else final_metrics(model, history, data.test, test_inputs, config.loss)
    )
    return Fitted(
        model, config, history_as_dicts(history), final, state, test_inputs, rules.best_epoch, rules.stopped_epoch
    )


def training_metrics(history: list[EpochRecord]) -> dict:
    """final_ without validation data: the last epoch's training loss and parts only (no test_* metric)."""
    return {"train_loss": history[-1].train_loss, **{f"train_{k}": v for k, v in history[-1].train_parts.items()}}
