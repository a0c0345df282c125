"""The bottleneck sweep: autoencoders at several code sizes and seeds, trained together, beside PCA.

All models form one `BatchedDenseAutoencoder` trained by the ordinary `Trainer`: the same subset
and batch order for all (from the base seed), each model's own initialisation (seed base + s, as
`aelab train --seed` would draw it) and Adam state. Model (k, base seed) therefore computes what
`aelab train --code-size k` computes, and the spread across seeds is the spread due to
initialisation. Writes config.json, sweep.json, sweep.png, summary.md, then finished.json.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from aelab.config import SweepConfig, parse_code_sizes  # parse_code_sizes: re-exported for the CLI
from aelab.data.description import WORDS
from aelab.devices import device_record
from aelab.fileio import atomic_write_json, atomic_write_text
from aelab.models.batched import BatchedDenseAutoencoder, per_model_metrics
from aelab.objectives import PerModelBCE, pixel_entropy
from aelab.plots.sweep import curves_from_result, sweep_figure
from aelab.runs.checkpointing import fit_resumable, restore_state
from aelab.runs.folder import check_start, environment, mark_finished, run_dir, save_figure
from aelab.runs.log import Log, stderr_log
from aelab.runs.summary import epoch_count
from aelab.tasks.pca import PCA, reconstruction_errors
from aelab.tasks.recipe import seeded_generators, select
from aelab.tasks.run_data import load_run_data, with_data_defaults
from aelab.tasks.sweep_summary import summary_markdown
from aelab.train.trainer import EpochRecord, Trainer

__all__ = ["run_sweep", "summary_markdown", "parse_code_sizes", "model_grid"]

FLAT_TOLERANCE = 0.05  # "flattened": within 5% of the best mean test loss
FILES = ["config.json", "sweep.json", "sweep.png", "summary.md"]
METRICS = (
    "train_bce",
    "test_bce",
    "train_bce_excess",
    "test_bce_excess",
    "train_mse",
    "test_mse",
    "gap_bce",
    "gap_bce_excess",
    "gap_mse",
)


def model_grid(config: SweepConfig) -> list[tuple[int, int]]:
    """(code size, seed) of each model in the batched order: sizes outer, seeds base, base + 1, … inner."""
    return [(k, config.seed + s) for k in config.code_sizes for s in range(config.seeds)]


def build_model(config: SweepConfig, n_features: int) -> BatchedDenseAutoencoder:
    """The sweep's models, each initialised from `seeded_generators(seed)["init"]` as `aelab train` does."""
    grid = model_grid(config)
    hidden = config.hidden_sizes if config.model == "deep" else ()
    generators = [seeded_generators(seed)["init"] for _, seed in grid]
    return BatchedDenseAutoencoder(n_features, [k for k, _ in grid], hidden, generators)


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    log: Log = stderr_log,
    resume: bool = False,
    force: bool = False,
) -> dict:
    """Train every model of `config` together, fit PCA, write the run folder `out`; return sweep.json's dict.

    With `resume`, continue from the folder's checkpoint; a finished sweep is read, not retrained.
    A finished or interrupted sweep in `out` is replaced only with `force`.
    """
    out, finished = check_start(
        out, config.dataset, resume, force, "sweep.json", log, what="sweep", expected=config.to_json()
    )
    if finished is not None:
        return finished
    data = load_run_data(config, data_dir, quiet)
    config = with_data_defaults(config, data)  # your own data: its scaling resolved; data needing MSE is refused
    generators = seeded_generators(config.seed)
    train_x, test_x, _ = select(
        data, config, generators["subset"]
    )  # the same draw as `aelab train --train-size N --seed S`
    model = build_model(config, train_x.shape[1])
    trainer = sweep_trainer(model, config, generators["order"], quiet)
    with run_dir(out, resume, force, log) as out:  # only now, when every input has been checked
        return write_sweep(out, config, trainer, data.source, train_x, test_x, log, resume, data.config_entries())


def write_sweep(
    out: Path,
    config: SweepConfig,
    trainer: Trainer,
    data_source: str,
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    log: Log,
    resume: bool,
    data_entries: dict | None = None,
) -> dict:
    """Train (or continue) the sweep into the locked run folder `out`, fit PCA, write the results."""
    model = trainer.model
    write_config(out, config, trainer, data_source, data_entries or {})
    kind = (data_entries or {}).get("description", {}).get("kind", "image")
    log(
        f"training {len(model.code_sizes)} {config.model} autoencoders together (code sizes "
        f"{','.join(map(str, config.code_sizes))} × {config.seeds} seed(s)) on {config.dataset} "
        f"({len(train_x)} {WORDS[kind][0]}s, from {data_source}), {epoch_count(config.epochs)}"
    )
    epochs = train_together(trainer, config, train_x, test_x, log, out, resume)
    final = {"train": per_model_metrics(model, train_x), "test": per_model_metrics(model, test_x)}
    pca = PCA().fit(train_x.numpy())
    pca_errors = {
        split: reconstruction_errors(pca, x.numpy(), list(config.code_sizes))
        for split, x in (("train", train_x), ("test", test_x))
    }
    result = {**result_record(config, model, train_x, test_x, epochs, final, pca_errors), "kind": kind}
    write_outputs(out, result)
    log(f"wrote {out}/: {' '.join(FILES)}")
    return result


def write_config(out: Path, config: SweepConfig, trainer: Trainer, data_source: str, data_entries: dict) -> None:
    """config.json: the settings, the data, the machine, the engine and the device, before any training."""
    atomic_write_json(
        out / "config.json",
        {
            "config": config.to_json(),
            "data_source": data_source,
            "environment": environment(),
            "engine": trainer.engine.describe(),
            "device": device_record(config.device),
            **data_entries,
        },
    )


def result_record(
    config: SweepConfig,
    model: BatchedDenseAutoencoder,
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    epochs: list[dict],
    final: dict,
    pca_errors: dict,
) -> dict:
    """sweep.json: the settings, the entropy floors, the timings, each code size's numbers and the flattening."""
    floors = {"train": pixel_entropy(train_x).item(), "test": pixel_entropy(test_x).item()}
    result = {
        "dataset": config.dataset,
        "model": config.model,
        "hidden_sizes": list(model.hidden_sizes),
        "code_sizes": list(config.code_sizes),
        "seeds": [config.seed + s for s in range(config.seeds)],
        "epochs": config.epochs,
        "n_train": len(train_x),
        "n_test": len(test_x),
        "bce_floor": floors,
        "seconds_training": sum(e["seconds"] for e in epochs),
        "seconds_per_epoch": [e["seconds"] for e in epochs],
        "sizes": size_entries(config, model, epochs, final, pca_errors, floors),
    }
    result["flattening"] = {
        "tolerance": FLAT_TOLERANCE,
        **{key: flattening(result, key) for key in ("test_bce_excess", "test_mse")},
    }
    return result


def sweep_trainer(model: BatchedDenseAutoencoder, config: SweepConfig, order: torch.Generator, quiet: bool) -> Trainer:
    """The trainer of every model at once. The compiled step trains two groups of models at once when
    torch has two threads here (the machine's cores, alone), one group inside `aelab reproduce`'s
    parallel steps (one thread each): threads 0, resolved by `train.engines.make_step`."""
    return Trainer(
        model,
        PerModelBCE(),
        batch_size=config.batch_size,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        generator=order,
        quiet=quiet,
        engine=config.engine,
        threads=0,
        device=config.device,
        deterministic=config.deterministic,
    )


def train_together(
    trainer: Trainer,
    config: SweepConfig,
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    log: Log,
    out: Path,
    resume: bool = False,
) -> list[dict]:
    """Train all models at once; per epoch: seconds and per-model (M,) train and test BCE and MSE.

    Train values are the means over the epoch's steps (as Keras reports them); test values are
    evaluated at the end of the epoch. Checkpoints after every epoch and on SIGINT/SIGTERM.
    """
    model, quiet = trainer.model, trainer.quiet
    epochs: list[dict] = []
    if resume:
        epochs.extend(restore_state(out, trainer, config.to_json(), log) or [])

    def epoch_done(record: EpochRecord) -> None:
        test = per_model_metrics(model, test_x)
        epochs.append(
            {
                "epoch": record.epoch,
                "seconds": record.seconds,
                "train_bce": record.train_parts["bce"],
                "train_mse": record.train_parts["mse"],
                "test_bce": test["bce"].tolist(),
                "test_mse": test["mse"].tolist(),
            }
        )
        by_size = np.asarray(test["bce"]).reshape(len(config.code_sizes), config.seeds).mean(axis=1)
        log(
            f"epoch {record.epoch}/{config.epochs}  {record.seconds:.1f} s  test BCE by code size: "
            + "  ".join(f"{k}: {v:.4f}" for k, v in zip(config.code_sizes, by_size))
        )

    # test metrics per model come from epoch_done; the per-epoch list travels in the checkpoint
    fit_resumable(trainer, out, config.to_json(), quiet, epoch_done, lambda: epochs, train_x=train_x, test_x=None)
    return epochs


def size_entries(
    config: SweepConfig,
    model: BatchedDenseAutoencoder,
    epochs: list[dict],
    final: dict[str, dict],
    pca_errors: dict[str, dict],
    floors: dict[str, float],
) -> list[dict]:
    """One entry per code size: its runs (one per seed) and their mean and sd, and PCA's losses."""
    entries = []
    for i, code_size in enumerate(config.code_sizes):
        runs = []
        for s in range(config.seeds):
            m = i * config.seeds + s
            history = [
                {
                    "epoch": e["epoch"],
                    **{key: e[key][m] for key in ("train_bce", "test_bce", "train_mse", "test_mse")},
                    "test_bce_excess": e["test_bce"][m] - floors["test"],
                }
                for e in epochs
            ]
            runs.append({"seed": config.seed + s, "epochs": history, "final": final_losses(final, m, floors)})
        table = np.array([[run["final"][key] for key in METRICS] for run in runs])  # (seeds, metrics)
        std = table.std(axis=0, ddof=1) if config.seeds > 1 else [None] * len(METRICS)
        pca = {
            f"{split}_{name}": float(pca_errors[split][name][i])
            for split in ("train", "test")
            for name in ("bce", "mse")
        }
        pca.update({f"{split}_bce_excess": pca[f"{split}_bce"] - floors[split] for split in ("train", "test")})
        entries.append(
            {
                "code_size": code_size,
                "n_parameters": model.n_parameters[i * config.seeds],
                "runs": runs,
                "mean": dict(zip(METRICS, table.mean(axis=0).tolist())),
                "std": dict(zip(METRICS, [None if v is None else float(v) for v in std])),
                "pca": pca,
            }
        )
    return entries


def final_losses(final: dict[str, dict], m: int, floors: dict[str, float]) -> dict[str, float]:
    """Model m's losses evaluated after training, on train and test, and the test − train gaps.

    gap_bce_excess leaves out the difference between the two sets' entropy floors: that part of
    the raw BCE gap is the test images being harder to code, which no model can remove.
    """
    out = {f"{split}_{name}": float(final[split][name][m]) for split in ("train", "test") for name in ("bce", "mse")}
    out.update({f"{split}_bce_excess": out[f"{split}_bce"] - floors[split] for split in ("train", "test")})
    out.update(
        {
            "gap_bce": out["test_bce"] - out["train_bce"],
            "gap_mse": out["test_mse"] - out["train_mse"],
            "gap_bce_excess": out["test_bce_excess"] - out["train_bce_excess"],
        }
    )
    return out


def flattening(result: dict, key: str, tolerance: float = FLAT_TOLERANCE) -> dict:
    """Where the mean test loss `key` flattens: the smallest size within `tolerance` of the best."""
    sizes = [entry["code_size"] for entry in result["sizes"]]
    values = np.array([entry["mean"][key] for entry in result["sizes"]])
    best = int(values.argmin())
    threshold = float(values[best]) * (1 + tolerance)
    first = next(i for i, v in enumerate(values) if v <= threshold)
    return {
        "code_size": sizes[first],
        "value": float(values[first]),
        "best_code_size": sizes[best],
        "best_value": float(values[best]),
        "threshold": threshold,
    }


def write_outputs(out, result: dict) -> None:
    """sweep.json, the figure and the summary, then the finished marker last."""
    atomic_write_json(out / "sweep.json", result)
    title = (
        f"{result['model']} autoencoders on {result['dataset']}: {result['n_train']} training "
        f"{WORDS[result.get('kind', 'image')][0]}s, "
        f"{result['epochs']} epoch{'s' if result['epochs'] > 1 else ''}"
    )
    save_figure(sweep_figure(*curves_from_result(result), title=title), out / "sweep.png")
    atomic_write_text(out / "summary.md", summary_markdown(result))
    mark_finished(out, FILES)
