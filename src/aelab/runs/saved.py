"""A trained model to and from an ordinary run folder, for the Python API (`Autoencoder.save`, `aelab.load`).

Written with the same functions as `aelab train` (config.json, checkpoint, weights, metrics, figures,
summary, finished.json last), so a folder saved from Python reads like any other: `aelab.load`, the
report and a person see no difference. Reading accepts any finished `aelab train` folder; the config
saved there is already resolved (epochs, noise, L1 filled in), so nobody has to call `resolve()`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from aelab.config import FigureConfig, TrainConfig
from aelab.data.arrays import IMAGE_SHAPE, image_shape
from aelab.errors import AelabError, CheckpointError
from aelab.fileio import atomic_write_json
from aelab.models.registry import get_family
from aelab.runs.checkpointing import CHECKPOINT, read_state, write_state
from aelab.runs.figures import resolve_figures
from aelab.runs.folder import environment, is_finished, run_dir
from aelab.runs.outputs import write_outputs
from aelab.train.checkpoint import load_weights

WEIGHTS = "model.safetensors"


@dataclass
class SavedRun:
    """What a run folder holds of a trained model: its config, weights, record and trainer state."""

    config: TrainConfig  # resolved
    model: torch.nn.Module
    history: list[dict]  # metrics.json "epochs"
    final: dict  # metrics.json "final"
    seconds_training: float
    trainer_state: tuple[dict, dict] | None  # (tensors, info) as train.state.trainer_state gives them
    data_source: str
    data_record: dict | None = None  # your own data: config.json's "data" (identity, split, scaling, sample shape)


def save_run(
    out: str | os.PathLike, run: SavedRun, test_x: torch.Tensor, test_inputs: torch.Tensor | None, force: bool = False
) -> Path:
    """Write `run` as a finished run folder `out`, its figures drawn from the (unlabelled) test images `test_x`.

    The folder is locked while it is written, and a run already there is replaced only with `force`
    (the run folder contract of `aelab train`).
    """
    n_units = run.model.first_layer_weights().shape[0]
    figures = resolve_figures(FigureConfig(n_images=min(FigureConfig().n_images, len(test_x))), n_units)
    run_config = {
        "config": run.config.to_json(),
        "figures": dataclasses.asdict(figures),
        "data_source": run.data_source,
        "environment": environment(),
    }
    if run.data_record is not None:
        run_config["data"] = run.data_record
    with run_dir(out, force=force) as out:
        atomic_write_json(out / "config.json", run_config)
        write_state(out, run.trainer_state, run_config["config"])
        metrics = {"epochs": run.history, "seconds_training": run.seconds_training, "final": run.final}
        write_outputs(
            out,
            run.model,
            run_config,
            metrics,
            figures,
            test_x,
            test_inputs,
            None,
            None,
            tuple(run.data_record["sample_shape"]) if run.data_record is not None else (1, 28, 28),
        )
    return out


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc}): expected the JSON an aelab run writes") from None


def read_run(folder: str | os.PathLike) -> SavedRun:
    """The trained model of a finished `aelab train` (or `Autoencoder.save`) folder; anything else is refused."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder}: no such folder: expected a run folder written by `aelab train` or Autoencoder.save"
        )
    if (folder / "sweep.json").is_file():
        raise CheckpointError(
            f"{folder}: a sweep's folder (many models, no {WEIGHTS}): expected the folder of one trained model"
        )
    if not is_finished(folder):
        raise CheckpointError(
            f"{folder}: not a finished run (no finished.json): expected a completed run folder "
            "(an interrupted one continues with `aelab train ... --resume`)"
        )
    run_config, metrics = read_json(folder / "config.json"), read_json(folder / "metrics.json")
    try:
        config = TrainConfig.from_json(run_config["config"])
    except (AelabError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{folder / 'config.json'}: not a training run's config ({exc})") from None
    data_record = run_config.get("data")  # your own data: the model's input is its sample shape
    sample_shape = (
        tuple(data_record["sample_shape"]) if data_record is not None else image_shape(math.prod(IMAGE_SHAPE))
    )
    model = get_family(config.model).build(sample_shape, config.code_size, config.hidden_sizes)
    load_weights(folder / WEIGHTS, model, config.to_json())
    state = read_state(folder) if (folder / CHECKPOINT).is_file() else None
    return SavedRun(
        config,
        model.eval(),
        metrics["epochs"],
        metrics["final"],
        metrics.get("seconds_training", 0.0),
        state,
        run_config.get("data_source", "unknown"),
        data_record,
    )
