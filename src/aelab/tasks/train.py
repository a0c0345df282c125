"""`aelab train`: one autoencoder trained into its run folder — config, metrics, weights, figures, summary, marker.

The model and trainer come from the recipe (tasks/recipe.py); the folder's files from runs/. What this
module adds is the order: every input checked before the folder is made, the config written first,
a checkpoint after every epoch, the finished marker last.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aelab.config import FigureConfig, TrainConfig
from aelab.data import Dataset
from aelab.devices import device_record
from aelab.fileio import atomic_write_json
from aelab.runs.checkpointing import fit_resumable, restore_state
from aelab.runs.figures import check_figures, resolve_figures
from aelab.runs.folder import check_start, environment, run_dir
from aelab.runs.log import Log, stderr_log
from aelab.runs.outputs import write_outputs
from aelab.runs.summary import epoch_count
from aelab.tasks.epoch_rules import epoch_line
from aelab.tasks.recipe import final_metrics, model_and_trainer, resolve, seeded_generators, select
from aelab.tasks.run_data import load_run_data, with_data_defaults
from aelab.train.trainer import EpochRecord, Trainer, history_as_dicts


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


def build(config: TrainConfig, figures: FigureConfig, data_dir, quiet: bool) -> Setup:
    """Load the data, draw subsets and noise, build model and trainer — all from the config's seed."""
    data = load_run_data(config, data_dir, quiet)
    config = with_data_defaults(config, data)
    generators = seeded_generators(config.seed)
    train_x, test_x, test_labels = select(data, config, generators["subset"])
    model, trainer, train_inputs, test_inputs = model_and_trainer(
        config, train_x, test_x, generators, quiet, data.sample_shape
    )
    check_figures(figures, test_labels, model.first_layer_weights().shape[0], len(test_x))
    return Setup(data, train_x, test_x, test_labels, train_inputs, test_inputs, model, trainer, config)


def train_run(
    config: TrainConfig,
    out: str | os.PathLike,
    figures: FigureConfig | None = None,
    data_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    log: Log = stderr_log,
    resume: bool = False,
    force: bool = False,
) -> dict:
    """Train `config`'s model and write the run folder `out`; return the metrics written.

    With `resume`, continue from the folder's checkpoint (bit-identical to an uninterrupted run);
    a folder that already holds a finished run is not trained again. A finished or interrupted run
    in `out` is replaced only with `force`; another process writing `out` makes this one refuse.
    """
    figures = FigureConfig() if figures is None else figures
    config = resolve(config)
    out, finished = check_start(out, config.dataset, resume, force, "metrics.json", log, expected=config.to_json())
    if finished is not None:
        return finished
    setup = build(config, figures, data_dir, quiet)
    config = setup.config
    figures = resolve_figures(figures, setup.model.first_layer_weights().shape[0])
    with run_dir(out, resume, force, log) as out:  # only now, when every input has been checked
        return write_run(out, setup, config, figures, quiet, log, resume)


def write_run(
    out: Path, setup: Setup, config: TrainConfig, figures: FigureConfig, quiet: bool, log: Log, resume: bool
) -> dict:
    """Train (or continue) into the locked run folder `out`: config first, finished marker last."""
    if resume:
        restore_state(out, setup.trainer, config.to_json(), log)
    run_config = {
        "config": config.to_json(),
        "figures": dataclasses.asdict(figures),
        "data_source": setup.data.source,
        "environment": environment(),
        "engine": setup.trainer.engine.describe(),
        "device": device_record(config.device),
    }
    run_config.update(setup.data.config_entries())  # the description; your own data's identity, split, scaling, loss
    atomic_write_json(out / "config.json", run_config)
    n_train, word = len(setup.train_x), setup.data.description.sample_word
    whole = f"; --batch-size {config.batch_size} is more than that: one step of all of them an epoch"
    log(
        f"training {config.model} on {config.dataset} ({n_train} {word}s, from {setup.data.source}), "
        f"{epoch_count(config.epochs)}" + (whole if config.batch_size > n_train else "")
    )
    history = fit_with_checkpoints(setup, config, out, quiet, log)
    log("evaluating on the test set, drawing the figures and writing the summary …")  # seconds for a conv or VAE run
    metrics = {
        "epochs": history_as_dicts(history),
        "seconds_training": sum(r.seconds for r in history),
        "final": final_metrics(setup.model, history, setup.test_x, setup.test_inputs, config.loss),
    }
    files = write_outputs(
        out,
        setup.model,
        run_config,
        metrics,
        figures,
        setup.test_x,
        setup.test_inputs,
        setup.test_labels,
    )
    log(f"wrote {out}/: {' '.join(files)}")
    return metrics


def fit_with_checkpoints(setup: Setup, config: TrainConfig, out: Path, quiet: bool, log: Log) -> list[EpochRecord]:
    """Train with a checkpoint after every epoch and on SIGINT/SIGTERM (see runs/checkpointing.py)."""
    trainer = setup.trainer

    def epoch_done(record: EpochRecord) -> None:
        atomic_write_json(out / "metrics.json", {"epochs": history_as_dicts(trainer.position.history)})
        log(epoch_line(record, config.epochs, setup.model, "test"))

    return fit_resumable(
        trainer,
        out,
        config.to_json(),
        quiet,
        epoch_done,
        train_x=setup.train_x,
        test_x=setup.test_x,
        train_inputs=setup.train_inputs,
        test_inputs=setup.test_inputs,
    )
