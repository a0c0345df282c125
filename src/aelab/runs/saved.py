"""A trained model to and from an ordinary run folder, for the Python API (`Autoencoder.save`, `aelab.load`).

Written with the same functions as `aelab train` (config.json, checkpoint, weights, metrics, figures,
summary, finished.json last), so a folder saved from Python reads like any other: `aelab.load`, the
report and a person see no difference. Reading accepts any finished `aelab train` folder; the config
saved there is already resolved (epochs, noise, L1 filled in), so nobody has to call `resolve()`. It also
accepts one model of a finished sweep's folder (`aelab sweep`, or a study's cells batched into one sweep),
named by its code size and seed: without it, the cells a study trained together could not be opened at all.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aelab.config import FigureConfig, SweepConfig, TrainConfig
from aelab.data.custom.in_memory import ARRAYS
from aelab.data.description import Description, described
from aelab.errors import AelabError, CheckpointError
from aelab.fileio import atomic_write_bytes, atomic_write_json, what_is_at
from aelab.models.batched import BatchedDenseAutoencoder
from aelab.models.registry import get_family
from aelab.runs.checkpointing import CHECKPOINT, read_state, write_state
from aelab.runs.figures import resolve_figures
from aelab.runs.folder import environment, is_finished, run_dir
from aelab.runs.outputs import write_outputs
from aelab.train.checkpoint import load_weights

WEIGHTS = "model.safetensors"
SAMPLES = "test_samples.npy"  # a folder saved from arrays in memory: some of its test samples (keep_samples)
KEPT_SAMPLES = 500


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
    member: tuple[int, int] | None = None  # one model of a sweep's folder: its (code size, seed)
    description: Description | None = None  # what the data is (data/description.py); None: MNIST-shaped images


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
    if run.description is not None:
        run_config["description"] = run.description.to_json()
    with run_dir(out, force=force) as out:
        atomic_write_json(out / "config.json", run_config)
        write_state(out, run.trainer_state, run_config["config"])
        metrics = {"epochs": run.history, "seconds_training": run.seconds_training, "final": run.final}
        kept = keep_samples(out, test_x) if run.config.dataset == ARRAYS else ()
        write_outputs(out, run.model, run_config, metrics, figures, test_x, test_inputs, None, kept)
    return out


def keep_samples(out: Path, test_x: torch.Tensor) -> tuple[str, ...]:
    """Arrays given in memory cannot be read again: the folder keeps up to KEPT_SAMPLES of its test samples (as the
    model takes them), so the explorer and `aelab.load(...)` users have samples to show and encode."""
    rows = np.ascontiguousarray(test_x[:KEPT_SAMPLES].numpy(), dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, rows, allow_pickle=False)
    atomic_write_bytes(out / SAMPLES, buffer.getvalue())
    return (SAMPLES,)


def kept_samples(folder: Path) -> np.ndarray | None:
    """The test samples a folder saved from arrays keeps (float32 rows, the model's space), or None."""
    path = Path(folder) / SAMPLES
    if not path.is_file():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc}): expected the samples Autoencoder.save keeps") from None


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc}): expected the JSON an aelab run writes") from None


def read_run(folder: str | os.PathLike, code_size: int | None = None, seed: int | None = None) -> SavedRun:
    """The trained model of a finished run folder; anything else is refused.

    An `aelab train` (or `Autoencoder.save`) folder holds one model: `code_size` and `seed`, where given, must be
    its own. A sweep's folder (`aelab sweep`, or a study's cells batched into one) holds one model per code size
    and seed, kept in its checkpoint: `code_size` and `seed` name one (either may be left out where the other
    alone does), so every model a study trained can be opened.
    """
    folder = Path(folder)
    if not folder.is_dir():
        found = what_is_at(folder)
        found = "no such folder" if found == "nothing" else f"is {found}"
        raise CheckpointError(f"{folder}: {found}: expected a run folder written by `aelab train` or Autoencoder.save")
    if (folder / "sweep.json").is_file():
        return read_sweep_model(folder, code_size, seed)
    if (folder / "anomaly.json").is_file():  # one model per normal class, scored and not kept
        raise CheckpointError(
            f"{folder}: an anomaly run's folder (its models, one per normal class, are not kept): expected a run "
            "folder written by `aelab train`, `aelab sweep` or Autoencoder.save"
        )
    if not is_finished(folder):
        raise CheckpointError(
            f"{folder}: not a finished run (no finished.json): expected a completed run folder "
            "(an interrupted one continues with `aelab train ... --resume`)"
        )
    run_config, metrics = read_json(folder / "config.json"), read_json(folder / "metrics.json")
    config = parsed_config(folder, run_config, TrainConfig, "a training run's config")
    check_own_model(folder, config, code_size, seed)
    data_record = run_config.get("data")
    description = described(run_config)  # the model's input is its sample shape
    model = get_family(config.model).build(description.sample_shape, config.code_size, config.hidden_sizes)
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
        description=description,
    )


def parsed_config(folder: Path, run_config: dict, kind: type, what: str):
    """config.json's "config" as a `kind` (TrainConfig or SweepConfig), or a one-line refusal naming the file."""
    try:
        return kind.from_json(run_config["config"])
    except (AelabError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{folder / 'config.json'}: not {what} ({exc})") from None


def check_own_model(folder: Path, config: TrainConfig, code_size: int | None, seed: int | None) -> None:
    """A code size or seed asked of a one-model folder must be its model's: another is a model it does not hold."""
    asked = {"code size": (code_size, config.code_size), "seed": (seed, config.seed)}
    wrong = [f"{name} {mine}" for name, (mine, own) in asked.items() if mine is not None and mine != own]
    if wrong:
        raise CheckpointError(
            f"{folder}: no model of {' and '.join(wrong)}: expected this run's own (code size {config.code_size}, "
            f"seed {config.seed}), or neither"
        )


def read_sweep_model(folder: Path, code_size: int | None, seed: int | None) -> SavedRun:
    """One model of a finished sweep's folder, its weights taken bit for bit from the batched model's checkpoint."""
    if not is_finished(folder) or not (folder / CHECKPOINT).is_file():
        raise CheckpointError(
            f"{folder}: a sweep's folder without finished.json or {CHECKPOINT}: expected a finished sweep "
            "(an interrupted one continues with `aelab sweep ... --resume`)"
        )
    run_config, sweep = read_json(folder / "config.json"), read_json(folder / "sweep.json")
    config = parsed_config(folder, run_config, SweepConfig, "a sweep's config")
    grid = [(k, config.seed + s) for k in config.code_sizes for s in range(config.seeds)]  # tasks.sweep.model_grid
    m = sweep_member(folder, grid, code_size, seed)
    data_record, description = run_config.get("data"), described(run_config)
    tensors, _ = read_state(folder)
    hidden = config.hidden_sizes if config.model == "deep" else ()  # as the sweep built them (tasks.sweep)
    state = {name[len("model.") :]: t for name, t in tensors.items() if name.startswith("model.")}
    try:
        batched = BatchedDenseAutoencoder.from_state(description.n_features, [k for k, _ in grid], hidden, state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{folder / CHECKPOINT}: {first}: expected the weights of {config.model} models "
            f"of code sizes {list(config.code_sizes)}"
        ) from None
    runs = {(e["code_size"], r["seed"]): r for e in sweep.get("sizes", []) for r in e["runs"]}
    record = runs.get(grid[m], {"epochs": [], "final": {}})
    return SavedRun(
        member_config(config, *grid[m], data_record),
        batched.extract(m).eval(),
        member_history(record["epochs"], sweep.get("seconds_per_epoch", [])),
        {**record["final"], **({"test_bce_floor": sweep["bce_floor"]["test"]} if "bce_floor" in sweep else {})},
        sweep.get("seconds_training", 0.0),
        None,  # the trainer's state is the whole sweep's (one Adam over every model): not this model's own
        run_config.get("data_source", "unknown"),
        data_record,
        member=grid[m],
        description=description,
    )


def sweep_member(folder: Path, grid: list[tuple[int, int]], code_size: int | None, seed: int | None) -> int:
    """The index of the one model of `grid` ((code size, seed) in the batched order) that `code_size` and `seed`
    name; none or several is a refusal listing the pairs there are."""
    found = [m for m, (k, s) in enumerate(grid) if code_size in (None, k) and seed in (None, s)]
    if len(found) == 1:
        return found[0]
    pairs = ", ".join(f"({k}, {s})" for k, s in grid)
    if not found:
        asked = " and ".join(f"{name} {v}" for name, v in (("code size", code_size), ("seed", seed)) if v is not None)
        raise CheckpointError(f"{folder}: no model of {asked} in this sweep: expected one of (code size, seed) {pairs}")
    raise CheckpointError(
        f"{folder}: a sweep's folder of {len(grid)} models: expected a code size and seed naming one of "
        f"(code size, seed) {pairs} (--code-size and --seed; code_size= and seed= in Python)"
    )


def member_config(config: SweepConfig, code_size: int, seed: int, data_record: dict | None) -> TrainConfig:
    """The config `aelab train` would train this one model of the sweep with: the sweep's settings, this code size
    and seed, the family's defaults (no noise, no L1: what the batched objective trains), BCE for your own data."""
    family = get_family(config.model)
    shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(config, f.name)}
    return TrainConfig(
        **{**shared, "code_size": code_size, "seed": seed},
        noise=family.default_noise,
        noise_factor=family.default_noise_factor,
        l1=family.default_l1,
        beta=family.default_beta,
        loss="bce" if data_record is not None else None,
    )


def member_history(epochs: list[dict], seconds: list[float]) -> list[dict]:
    """sweep.json's per-model epochs in a training run's shape (`history_`'s); "seconds" is the batched epoch's,
    shared by every model of the sweep."""
    return [
        {
            "epoch": e["epoch"],
            "train_loss": e["train_bce"],
            "test_loss": e["test_bce"],
            "seconds": seconds[i] if i < len(seconds) else None,
            "train_parts": {"bce": e["train_bce"], "mse": e["train_mse"]},
        }
        for i, e in enumerate(epochs)
    ]
