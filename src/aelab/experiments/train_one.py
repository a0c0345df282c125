"""Train one autoencoder and write its run folder: config, metrics, weights, figures, summary, marker.

This is the glue between the layers: data (arrays) → model and trainer (tensors) → figures
(arrays again). Everything random is drawn from generators seeded from the config's seed, one per
purpose, so that (say) turning on noise never changes the initial weights or the batch order.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from aelab.config import FigureConfig, SweepConfig, TrainConfig
from aelab.data import Dataset
from aelab.data.arrays import shared_tensor
from aelab.data.noise import corruption
from aelab.devices import device_record
from aelab.errors import ConfigError
from aelab.experiments.checkpointing import CHECKPOINT, fit_resumable, restore_state
from aelab.experiments.run_figures import check_figures, draw_run_figures, resolve_figures
from aelab.experiments.run_data import load_run_data, with_data_defaults
from aelab.experiments.runs import check_start, environment, mark_finished, run_dir
from aelab.experiments.summary import write_summary
from aelab.fileio import atomic_write_json
from aelab.models.registry import get_family
from aelab.models.variational import VariationalAutoencoder
from aelab.objectives import MSEObjective, VariationalObjective, objective_for
from aelab.train.checkpoint import save_weights
from aelab.train.metrics import reconstruction_metrics
from aelab.train.vae_metrics import variational_metrics
from aelab.train.trainer import EpochRecord, Trainer, history_as_dicts

Log = Callable[[str], None]
STREAMS = ("init", "order", "subset", "noise", "test_noise")


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve(config: TrainConfig) -> TrainConfig:
    """A config with the model family's study defaults filled in (a new object; configs are frozen)."""
    family = get_family(config.model)
    return dataclasses.replace(
        config,
        epochs=config.epochs if config.epochs is not None else family.default_epochs,
        noise=config.noise if config.noise is not None else family.default_noise,
        l1=config.l1 if config.l1 is not None else family.default_l1,
        noise_factor=config.noise_factor if config.noise_factor is not None else family.default_noise_factor,
        beta=config.beta if config.beta is not None else family.default_beta,
    )


def image_shape(n_features: int) -> tuple[int, ...]:
    """The (C, H, W) of rows of `n_features` pixels: (1, 28, 28) for the built-in data sets' 784, else flat (n,)."""
    return (1, 28, 28) if n_features == 784 else (n_features,)


def seeded_generators(seed: int) -> dict[str, torch.Generator]:
    """Independent generators per purpose, derived from one seed through NumPy's SeedSequence."""
    states = np.random.SeedSequence(seed).generate_state(len(STREAMS), dtype=np.uint64)
    return {name: torch.Generator().manual_seed(int(s) >> 1) for name, s in zip(STREAMS, states)}


def select(data: Dataset, config: TrainConfig | SweepConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Training and test tensors as configured (a seeded random subset of train, the first N test) and test labels.

    Used by `train` and `sweep` alike, so model (k, seed) of a sweep sees the images `aelab train` would.
    """
    train = shared_tensor(data.train_images)  # the loaded data set's arrays are read-only; aelab never writes into them
    test = shared_tensor(data.test_images)
    if isinstance(config, TrainConfig) and config.train_with_test:  # the Keras VAE example trains on all 70,000
        train = torch.cat([train, test])
    if config.train_size is not None:
        if config.train_size > len(train):
            raise ConfigError(f"--train-size {config.train_size}: expected at most {len(train)} (the training set's size)")
        train = train[torch.randperm(len(train), generator=generator)[:config.train_size]].clone()
    if config.test_size is not None and config.test_size > len(test):
        raise ConfigError(f"--test-size {config.test_size}: expected at most {len(test)} (the test set's size)")
    n_test = len(test) if config.test_size is None else config.test_size
    if config.batch_size > len(train):
        raise ConfigError(f"--batch-size {config.batch_size}: expected at most {len(train)} (the training images)")
    return train, test[:n_test], None if data.test_labels is None else data.test_labels[:n_test]


def noisy_inputs(config: TrainConfig, train_x: torch.Tensor, test_x: torch.Tensor,
                 generators: dict[str, torch.Generator]) -> tuple[torch.Tensor | None, torch.Tensor | None, object]:
    """(fixed training inputs or None, test inputs or None, per-batch transform or None) for the run's noise."""
    if config.noise is None:
        return None, None, None
    corrupt = corruption(config.noise, config.noise_factor)
    test_inputs = corrupt(test_x, generators["test_noise"])  # seeded and fixed, so every epoch scores the same inputs
    if config.fixed_noise:  # the original study: one draw for the whole training set
        return corrupt(train_x, generators["noise"]), test_inputs, None
    return None, test_inputs, corrupt


@dataclass
class Setup:
    """Everything a run trains on, built and checked before anything is written."""

    data: Dataset
    train_x: torch.Tensor
    test_x: torch.Tensor
    test_labels: np.ndarray | None
    train_inputs: torch.Tensor | None
    test_inputs: torch.Tensor | None
    model: torch.nn.Module
    trainer: Trainer
    config: TrainConfig | None = None  # the config with the data's defaults resolved (run_data.with_data_defaults)


def model_and_trainer(config: TrainConfig, train_x: torch.Tensor, test_x: torch.Tensor,
                      generators: dict[str, torch.Generator], quiet: bool, sample_shape: tuple[int, ...] | None = None
                      ) -> tuple[torch.nn.Module, Trainer, torch.Tensor | None, torch.Tensor | None]:
    """(model, trainer, fixed noisy training inputs or None, noisy test inputs or None) for a resolved config.

    The one place a run's model and trainer are made, for `aelab train` and the Python API alike.
    `sample_shape` is the images' (C, H, W) (default: `image_shape` of the rows' length).
    """
    family = get_family(config.model)
    model = family.build(sample_shape or image_shape(train_x.shape[1]), config.code_size, config.hidden_sizes,
                         generators["init"])
    train_inputs, test_inputs, transform = noisy_inputs(config, train_x, test_x, generators)
    if family.variational:
        if config.loss == "mse":  # the VAE's decoder is Bernoulli: its reconstruction term is the BCE of values in [0, 1]
            raise ConfigError(f"--model {config.model} with --loss mse: expected data in [0, 1] (e.g. --scale minmax) "
                              "and the BCE loss: a variational model's decoder models pixels in [0, 1]")
        objective = VariationalObjective(config.beta)
    elif config.loss == "mse":
        objective = MSEObjective(config.l1, config.l1_reduction)
    else:
        objective = objective_for(config.l1, config.l1_reduction)
    trainer = Trainer(model, objective, batch_size=config.batch_size,
                      epochs=config.epochs, learning_rate=config.learning_rate, generator=generators["order"],
                      input_transform=transform, quiet=quiet, engine=config.engine, threads=config.threads,
                      clean_epochs=config.clean_epochs, device=config.device, deterministic=config.deterministic)
    return model, trainer, train_inputs, test_inputs


def build(config: TrainConfig, figures: FigureConfig, data_dir, quiet: bool) -> Setup:
    """Load the data, draw subsets and noise, build model and trainer — all from the config's seed."""
    data = load_run_data(config, data_dir, quiet)
    config = with_data_defaults(config, data)
    generators = seeded_generators(config.seed)
    train_x, test_x, test_labels = select(data, config, generators["subset"])
    model, trainer, train_inputs, test_inputs = model_and_trainer(config, train_x, test_x, generators, quiet,
                                                                  data.sample_shape)
    check_figures(figures, test_labels, model.first_layer_weights().shape[0], len(test_x))
    return Setup(data, train_x, test_x, test_labels, train_inputs, test_inputs, model, trainer, config)


def train_run(config: TrainConfig, out: str | os.PathLike, figures: FigureConfig = FigureConfig(),
              data_dir: str | os.PathLike | None = None, quiet: bool = False, log: Log = stderr_log,
              resume: bool = False, force: bool = False) -> dict:
    """Train `config`'s model and write the run folder `out`; return the metrics written.

    With `resume`, continue from the folder's checkpoint (bit-identical to an uninterrupted run);
    a folder that already holds a finished run is not trained again. A finished or interrupted run
    in `out` is replaced only with `force`; another process writing `out` makes this one refuse.
    """
    config = resolve(config)
    out, finished = check_start(out, config.dataset, resume, force, "metrics.json", log)
    if finished is not None:
        return finished
    setup = build(config, figures, data_dir, quiet)
    config = setup.config
    figures = resolve_figures(figures, setup.model.first_layer_weights().shape[0])
    with run_dir(out, resume, force, log) as out:  # only now, when every input has been checked
        return write_run(out, setup, config, figures, quiet, log, resume)


def write_run(out: Path, setup: Setup, config: TrainConfig, figures: FigureConfig, quiet: bool, log: Log,
              resume: bool) -> dict:
    """Train (or continue) into the locked run folder `out`: config first, finished marker last."""
    if resume:
        restore_state(out, setup.trainer, config.to_json(), log)
    run_config = {"config": config.to_json(), "figures": dataclasses.asdict(figures), "data_source": setup.data.source,
                  "environment": environment(), "engine": setup.trainer.engine.describe(),
                  "device": device_record(config.device)}
    if setup.data.record is not None:  # your own data: identity (path, files, shape, SHA-256), split, scaling, loss
        run_config["data"] = {**setup.data.record, "sample_shape": list(setup.data.sample_shape),
                              "class_names": setup.data.class_names}
    atomic_write_json(out / "config.json", run_config)
    log(f"training {config.model} on {config.dataset} ({len(setup.train_x)} images, from {setup.data.source}), {config.epochs} epochs")
    history = fit_with_checkpoints(setup, config, out, quiet, log)
    metrics = {"epochs": history_as_dicts(history), "seconds_training": sum(r.seconds for r in history),
               "final": final_metrics(setup.model, history, setup.test_x, setup.test_inputs, config.loss)}
    files = write_outputs(out, setup.model, run_config, metrics, figures, setup.test_x, setup.test_inputs,
                          setup.test_labels, setup.data.class_names, setup.data.sample_shape)
    log(f"wrote {out}/: {' '.join(files)}")
    return metrics


def fit_with_checkpoints(setup: Setup, config: TrainConfig, out: Path, quiet: bool, log: Log) -> list[EpochRecord]:
    """Train with a checkpoint after every epoch and on SIGINT/SIGTERM (see experiments.checkpointing)."""
    trainer = setup.trainer

    def epoch_done(record: EpochRecord) -> None:
        atomic_write_json(out / "metrics.json", {"epochs": history_as_dicts(trainer.position.history)})
        log(f"epoch {record.epoch}/{config.epochs}  train {record.train_loss:.4f}  test {record.test_loss:.4f}  {record.seconds:.1f} s")

    return fit_resumable(trainer, out, config.to_json(), quiet, epoch_done, train_x=setup.train_x, test_x=setup.test_x,
                         train_inputs=setup.train_inputs, test_inputs=setup.test_inputs)


def final_metrics(model: torch.nn.Module, history: list[EpochRecord], test_x: torch.Tensor,
                  test_inputs: torch.Tensor | None, loss: str | None = None) -> dict:
    """Last epoch's train loss and test metrics (`test_*`); for a denoiser also on clean inputs (`clean_test_*`)."""
    final: dict = {"train_loss": history[-1].train_loss, **{f"train_{k}": v for k, v in history[-1].train_parts.items()}}
    for prefix, inputs in (("test", test_inputs), ("clean_test", test_x)) if test_inputs is not None else (("test", None),):
        for key, value in reconstruction_metrics(model, test_x, inputs, loss=loss).items():
            final[f"{prefix}_{key}"] = value
    if isinstance(model, VariationalAutoencoder):  # the held-out ELBO and its parts, active dimensions
        final.update({f"test_{key}": value for key, value in variational_metrics(model, test_x, test_inputs).items()})
    return final


def write_outputs(out: Path, model: torch.nn.Module, run_config: dict, metrics: dict, figures: FigureConfig,
                  test_x: torch.Tensor, test_inputs: torch.Tensor | None, test_labels: np.ndarray | None,
                  class_names: tuple[str, ...] | None, sample_shape: tuple[int, ...] = (1, 28, 28)) -> list[str]:
    """Weights, metrics, figures and summary, then the finished marker last; returns the files written.

    The checkpoint (`out`/checkpoint.safetensors) must already be there: it is listed among the files.
    Unlabelled test images (`test_labels` None, from the Python API) are titled by their index.
    """
    save_weights(out / "model.safetensors", model, run_config["config"])
    atomic_write_json(out / "metrics.json", metrics)
    pictures = draw_run_figures(out, model, figures, test_x, test_inputs, test_labels, class_names,
                                metrics["epochs"], metrics["final"].get("test_bce_floor"), sample_shape,
                                run_config["config"].get("loss"))
    write_summary(out / "summary.md", run_config, metrics, pictures)
    files = ["config.json", "metrics.json", "model.safetensors", CHECKPOINT, *pictures, "summary.md"]
    mark_finished(out, files)
    return files
