"""Train one autoencoder and write its run folder: config, metrics, weights, figures, marker.

This is the glue between the layers: data (arrays) → model and trainer (tensors) → figures
(arrays again). Everything random is drawn from generators seeded from the config's seed.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from aelab.config import FigureConfig, TrainConfig
from aelab.data import Dataset, load_dataset
from aelab.data.registry import get_spec
from aelab.errors import ConfigError
from aelab.experiments.runs import check_output_dir, environment, mark_finished, prepare_run_dir, save_figure
from aelab.fileio import atomic_write_json
from aelab.models.registry import get_family
from aelab.objectives import ReconstructionObjective
from aelab.plots.curves import loss_figure
from aelab.plots.images import reconstructions_figure
from aelab.plots.weights import weights_figure
from aelab.train.checkpoint import save_weights
from aelab.train.metrics import reconstruction_metrics
from aelab.train.trainer import EpochRecord, Trainer

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve(config: TrainConfig) -> TrainConfig:
    """A config with the model's study defaults filled in (a new object; configs are frozen)."""
    family = get_family(config.model)
    return config if config.epochs is not None else dataclasses.replace(config, epochs=family.default_epochs)


def seeded_generators(seed: int) -> dict[str, torch.Generator]:
    """Independent generators per purpose, so adding noise never changes the weights or batch order."""
    states = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint64)
    return {name: torch.Generator().manual_seed(int(s) >> 1) for name, s in zip(("init", "order", "subset"), states)}


def select(data: Dataset, config: TrainConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and test tensors, subset as configured (a seeded random subset of train, the first N test)."""
    train = torch.from_numpy(data.train_images)
    test = torch.from_numpy(data.test_images)
    if config.train_size is not None:
        if config.train_size > len(train):
            raise ConfigError(f"--train-size {config.train_size}: expected at most {len(train)} (the training set's size)")
        train = train[torch.randperm(len(train), generator=generator)[:config.train_size]].clone()
    if config.test_size is not None:
        test = test[:config.test_size]
    if config.batch_size > len(train):
        raise ConfigError(f"--batch-size {config.batch_size}: expected at most {len(train)} (the training images)")
    return train, test


def check_figures(figures: FigureConfig, n_test: int, n_units: int) -> None:
    if figures.n_images > n_test:
        raise ConfigError(f"--n-images {figures.n_images}: expected at most {n_test} (the test images)")
    if figures.n_weights > n_units:
        raise ConfigError(f"--n-weights {figures.n_weights}: expected at most {n_units} (units in the first layer)")


def train_run(config: TrainConfig, out: str | os.PathLike, figures: FigureConfig = FigureConfig(),
              data_dir: str | os.PathLike | None = None, quiet: bool = False, log: Log = stderr_log) -> dict:
    """Train `config`'s model and write the run folder `out`; return the metrics written."""
    config = resolve(config)
    family = get_family(config.model)
    get_spec(config.dataset)  # an unknown name fails here, before anything is written
    check_output_dir(out)
    data = load_dataset(config.dataset, data_dir, progress=not quiet)
    generators = seeded_generators(config.seed)
    train_x, test_x = select(data, config, generators["subset"])
    model = family.build(data.spec.n_features, config.code_size, config.hidden_sizes, generators["init"])
    check_figures(figures, len(test_x), model.first_layer_weights().shape[0])
    out = prepare_run_dir(out)  # only now, when every input has been checked
    log(f"training {config.model} on {config.dataset} ({len(train_x)} images, from {data.source}), {config.epochs} epochs")
    trainer = Trainer(model, ReconstructionObjective(), batch_size=config.batch_size, epochs=config.epochs,
                      learning_rate=config.learning_rate, generator=generators["order"], quiet=quiet)
    history: list[EpochRecord] = []
    run_config = {"config": config.to_json(), "figures": dataclasses.asdict(figures), "data_source": data.source,
                  "environment": environment()}
    atomic_write_json(out / "config.json", run_config)

    def epoch_done(record: EpochRecord) -> None:
        history.append(record)
        atomic_write_json(out / "metrics.json", {"epochs": [dataclasses.asdict(r) for r in history]})
        test = f"  test {record.test_loss:.4f}" if record.test_loss is not None else ""
        log(f"epoch {record.epoch}/{config.epochs}  train {record.train_loss:.4f}{test}  {record.seconds:.1f} s")

    start = time.perf_counter()
    trainer.fit(train_x, test_x, on_epoch_end=epoch_done)
    seconds = time.perf_counter() - start
    metrics = {"epochs": [dataclasses.asdict(r) for r in history], "seconds_training": seconds,
               "final": final_metrics(model, history, test_x)}
    write_outputs(out, model, run_config, metrics, figures, test_x, data)
    log(f"wrote {out}/: config.json metrics.json model.safetensors reconstructions.png weights.png loss.png")
    return metrics


def final_metrics(model: torch.nn.Module, history: list[EpochRecord], test_x: torch.Tensor) -> dict:
    """The end-of-training numbers: last epoch's train loss and test metrics (prefixed test_)."""
    test = reconstruction_metrics(model, test_x)
    final = {"train_loss": history[-1].train_loss}
    final.update({f"test_{k}" if not k.startswith("code") else k: v for k, v in test.items()})
    return final


def write_outputs(out: Path, model: torch.nn.Module, run_config: dict, metrics: dict, figures: FigureConfig,
                  test_x: torch.Tensor, data: Dataset) -> None:
    """Weights, metrics and figures, then the finished marker last."""
    save_weights(out / "model.safetensors", model, run_config["config"])
    atomic_write_json(out / "metrics.json", metrics)
    shown = test_x[:figures.n_images]
    titles = [data.spec.class_names[int(c)] for c in data.test_labels[:figures.n_images]]
    recon = model.reconstruct(shown).numpy()
    save_figure(reconstructions_figure(shown.numpy(), recon, titles=titles), out / "reconstructions.png")
    save_figure(weights_figure(model.first_layer_weights()[:figures.n_weights].numpy()), out / "weights.png")
    epochs = metrics["epochs"]
    save_figure(loss_figure([e["train_loss"] for e in epochs], [e["test_loss"] for e in epochs],
                            floor=metrics["final"]["test_bce_floor"]), out / "loss.png")
    mark_finished(out, ["config.json", "metrics.json", "model.safetensors", "reconstructions.png", "weights.png", "loss.png"])
