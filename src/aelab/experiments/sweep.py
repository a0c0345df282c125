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
from aelab.devices import device_record
from aelab.experiments.pca import PCA, reconstruction_errors
from aelab.experiments.checkpointing import fit_resumable, restore_state
from aelab.experiments.run_data import load_run_data, with_data_defaults
from aelab.experiments.runs import check_start, environment, mark_finished, run_dir, save_figure
from aelab.experiments.train_one import Log, seeded_generators, select, stderr_log
from aelab.fileio import atomic_write_json, atomic_write_text
from aelab.models.batched import BatchedDenseAutoencoder, per_model_metrics
from aelab.objectives import PerModelBCE
from aelab.objectives import pixel_entropy
from aelab.plots.sweep import curves_from_result, sweep_figure
from aelab.train.trainer import EpochRecord, Trainer

__all__ = ["run_sweep", "format_table", "summary_markdown", "parse_code_sizes", "model_grid"]

FLAT_TOLERANCE = 0.05  # "flattened": within 5% of the best mean test loss
FILES = ["config.json", "sweep.json", "sweep.png", "summary.md"]
METRICS = ("train_bce", "test_bce", "train_bce_excess", "test_bce_excess", "train_mse", "test_mse",
           "gap_bce", "gap_bce_excess", "gap_mse")


def model_grid(config: SweepConfig) -> list[tuple[int, int]]:
    """(code size, seed) of each model in the batched order: sizes outer, seeds base, base + 1, … inner."""
    return [(k, config.seed + s) for k in config.code_sizes for s in range(config.seeds)]


def build_model(config: SweepConfig, n_features: int) -> BatchedDenseAutoencoder:
    """The sweep's models, each initialised from `seeded_generators(seed)["init"]` as `aelab train` does."""
    grid = model_grid(config)
    hidden = config.hidden_sizes if config.model == "deep" else ()
    generators = [seeded_generators(seed)["init"] for _, seed in grid]
    return BatchedDenseAutoencoder(n_features, [k for k, _ in grid], hidden, generators)


def run_sweep(config: SweepConfig, out: str | os.PathLike, data_dir: str | os.PathLike | None = None,
              quiet: bool = False, log: Log = stderr_log, resume: bool = False, force: bool = False) -> dict:
    """Train every model of `config` together, fit PCA, write the run folder `out`; return sweep.json's dict.

    With `resume`, continue from the folder's checkpoint; a finished sweep is read, not retrained.
    A finished or interrupted sweep in `out` is replaced only with `force`.
    """
    out, finished = check_start(out, config.dataset, resume, force, "sweep.json", log, what="sweep")
    if finished is not None:
        return finished
    data = load_run_data(config, data_dir, quiet)
    config = with_data_defaults(config, data)  # your own data: its scaling resolved; data needing MSE is refused
    generators = seeded_generators(config.seed)
    train_x, test_x, _ = select(data, config, generators["subset"])  # the same draw as `aelab train --train-size N --seed S`
    model = build_model(config, train_x.shape[1])
    trainer = sweep_trainer(model, config, generators["order"], quiet)
    with run_dir(out, resume, force, log) as out:  # only now, when every input has been checked
        return write_sweep(out, config, trainer, data.source, train_x, test_x, log, resume, data.record)


def write_sweep(out: Path, config: SweepConfig, trainer: Trainer, data_source: str, train_x: torch.Tensor,
                test_x: torch.Tensor, log: Log, resume: bool, data_record: dict | None = None) -> dict:
    """Train (or continue) the sweep into the locked run folder `out`, fit PCA, write the results."""
    model = trainer.model
    atomic_write_json(out / "config.json", {"config": config.to_json(), "data_source": data_source, "environment": environment(),
                                            "engine": trainer.engine.describe(), "device": device_record(config.device),
                                            **({"data": data_record} if data_record is not None else {})})
    log(f"training {len(model.code_sizes)} {config.model} autoencoders together (code sizes "
        f"{','.join(map(str, config.code_sizes))} × {config.seeds} seed(s)) on {config.dataset} "
        f"({len(train_x)} images, from {data_source}), {config.epochs} epochs")
    epochs = train_together(trainer, config, train_x, test_x, log, out, resume)
    seconds = sum(e["seconds"] for e in epochs)
    final = {"train": per_model_metrics(model, train_x), "test": per_model_metrics(model, test_x)}
    pca = PCA().fit(train_x.numpy())
    pca_errors = {split: reconstruction_errors(pca, x.numpy(), list(config.code_sizes)) for split, x in (("train", train_x), ("test", test_x))}
    floors = {"train": pixel_entropy(train_x).item(), "test": pixel_entropy(test_x).item()}
    result = {"dataset": config.dataset, "model": config.model,
              "hidden_sizes": list(model.hidden_sizes), "code_sizes": list(config.code_sizes),
              "seeds": [config.seed + s for s in range(config.seeds)], "epochs": config.epochs,
              "n_train": len(train_x), "n_test": len(test_x), "bce_floor": floors, "seconds_training": seconds,
              "seconds_per_epoch": [e["seconds"] for e in epochs],
              "sizes": size_entries(config, model, epochs, final, pca_errors, floors)}
    result["flattening"] = {"tolerance": FLAT_TOLERANCE, **{key: flattening(result, key) for key in ("test_bce_excess", "test_mse")}}
    write_outputs(out, result)
    log(f"wrote {out}/: {' '.join(FILES)}")
    return result


def sweep_trainer(model: BatchedDenseAutoencoder, config: SweepConfig, order: torch.Generator, quiet: bool) -> Trainer:
    """The trainer of every model at once. The compiled step trains two groups of models at once when
    torch has two threads here (the machine's cores, alone), one group inside `aelab reproduce`'s
    parallel steps (one thread each): threads 0, resolved by `train.engines.make_step`."""
    return Trainer(model, PerModelBCE(), batch_size=config.batch_size, epochs=config.epochs,
                   learning_rate=config.learning_rate, generator=order, quiet=quiet, engine=config.engine, threads=0,
                   device=config.device, deterministic=config.deterministic)


def train_together(trainer: Trainer, config: SweepConfig, train_x: torch.Tensor, test_x: torch.Tensor,
                   log: Log, out: Path, resume: bool = False) -> list[dict]:
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
        epochs.append({"epoch": record.epoch, "seconds": record.seconds, "train_bce": record.train_parts["bce"],
                       "train_mse": record.train_parts["mse"], "test_bce": test["bce"].tolist(), "test_mse": test["mse"].tolist()})
        by_size = np.asarray(test["bce"]).reshape(len(config.code_sizes), config.seeds).mean(axis=1)
        log(f"epoch {record.epoch}/{config.epochs}  {record.seconds:.1f} s  test BCE by code size: "
            + "  ".join(f"{k}: {v:.4f}" for k, v in zip(config.code_sizes, by_size)))

    # test metrics per model come from epoch_done; the per-epoch list travels in the checkpoint
    fit_resumable(trainer, out, config.to_json(), quiet, epoch_done, lambda: epochs, train_x=train_x, test_x=None)
    return epochs


def size_entries(config: SweepConfig, model: BatchedDenseAutoencoder, epochs: list[dict], final: dict[str, dict],
                 pca_errors: dict[str, dict], floors: dict[str, float]) -> list[dict]:
    """One entry per code size: its runs (one per seed) and their mean and sd, and PCA's losses."""
    entries = []
    for i, code_size in enumerate(config.code_sizes):
        runs = []
        for s in range(config.seeds):
            m = i * config.seeds + s
            history = [{"epoch": e["epoch"], **{key: e[key][m] for key in ("train_bce", "test_bce", "train_mse", "test_mse")},
                        "test_bce_excess": e["test_bce"][m] - floors["test"]} for e in epochs]
            runs.append({"seed": config.seed + s, "epochs": history, "final": final_losses(final, m, floors)})
        table = np.array([[run["final"][key] for key in METRICS] for run in runs])  # (seeds, metrics)
        std = table.std(axis=0, ddof=1) if config.seeds > 1 else [None] * len(METRICS)
        pca = {f"{split}_{name}": float(pca_errors[split][name][i]) for split in ("train", "test") for name in ("bce", "mse")}
        pca.update({f"{split}_bce_excess": pca[f"{split}_bce"] - floors[split] for split in ("train", "test")})
        entries.append({"code_size": code_size, "n_parameters": model.n_parameters[i * config.seeds], "runs": runs,
                        "mean": dict(zip(METRICS, table.mean(axis=0).tolist())),
                        "std": dict(zip(METRICS, [None if v is None else float(v) for v in std])), "pca": pca})
    return entries


def final_losses(final: dict[str, dict], m: int, floors: dict[str, float]) -> dict[str, float]:
    """Model m's losses evaluated after training, on train and test, and the test − train gaps.

    gap_bce_excess leaves out the difference between the two sets' entropy floors: that part of
    the raw BCE gap is the test images being harder to code, which no model can remove.
    """
    out = {f"{split}_{name}": float(final[split][name][m]) for split in ("train", "test") for name in ("bce", "mse")}
    out.update({f"{split}_bce_excess": out[f"{split}_bce"] - floors[split] for split in ("train", "test")})
    out.update({"gap_bce": out["test_bce"] - out["train_bce"], "gap_mse": out["test_mse"] - out["train_mse"],
                "gap_bce_excess": out["test_bce_excess"] - out["train_bce_excess"]})
    return out


def flattening(result: dict, key: str, tolerance: float = FLAT_TOLERANCE) -> dict:
    """Where the mean test loss `key` flattens: the smallest size within `tolerance` of the best."""
    sizes = [entry["code_size"] for entry in result["sizes"]]
    values = np.array([entry["mean"][key] for entry in result["sizes"]])
    best = int(values.argmin())
    threshold = float(values[best]) * (1 + tolerance)
    first = next(i for i, v in enumerate(values) if v <= threshold)
    return {"code_size": sizes[first], "value": float(values[first]), "best_code_size": sizes[best],
            "best_value": float(values[best]), "threshold": threshold}


def write_outputs(out, result: dict) -> None:
    """sweep.json, the figure and the summary, then the finished marker last."""
    atomic_write_json(out / "sweep.json", result)
    title = (f"{result['model']} autoencoders on {result['dataset']}: {result['n_train']} training images, "
             f"{result['epochs']} epoch{'s' if result['epochs'] > 1 else ''}")
    save_figure(sweep_figure(*curves_from_result(result), title=title), out / "sweep.png")
    atomic_write_text(out / "summary.md", summary_markdown(result))
    mark_finished(out, FILES)


def format_table(result: dict) -> str:
    """The per-size numbers as a plain-text table (means over seeds; ± the sd when there are several)."""
    spread = len(result["seeds"]) > 1
    header = (f"{'code':>5} {'params':>8} {'train BCE':>10} {'test BCE':>9} {'test excess':>{19 if spread else 11}} "
              f"{'gap excess':>10} {'test MSE':>{19 if spread else 9}} {'PCA excess':>10} {'PCA MSE':>8}")
    lines = [header]
    for entry in result["sizes"]:
        mean, std, pca = entry["mean"], entry["std"], entry["pca"]
        excess = f"{mean['test_bce_excess']:.4f}" + (f" ± {std['test_bce_excess']:.4f}" if spread else "")
        mse = f"{mean['test_mse']:.5f}" + (f" ± {std['test_mse']:.5f}" if spread else "")
        lines.append(f"{entry['code_size']:>5} {entry['n_parameters']:>8} {mean['train_bce']:>10.4f} {mean['test_bce']:>9.4f} "
                     f"{excess:>{19 if spread else 11}} {mean['gap_bce_excess']:>10.4f} {mse:>{19 if spread else 9}} "
                     f"{pca['test_bce_excess']:>10.4f} {pca['test_mse']:>8.5f}")
    floor = result["bce_floor"]["test"]
    lines.append(f"excess = BCE − the test images' entropy floor {floor:.4f}; gap excess = test − train excess after training; "
                 f"{result['seconds_training']:.1f} s for all {len(result['sizes']) * len(result['seeds'])} models")
    return "\n".join(lines)


def summary_markdown(result: dict) -> str:
    """summary.md: the curve's flattening point, the train–test gap and the seed spread, from the numbers."""
    sizes, seeds = result["sizes"], result["seeds"]
    flat, flat_mse = result["flattening"]["test_bce_excess"], result["flattening"]["test_mse"]
    pct = f"{result['flattening']['tolerance']:.0%}"
    lines = [f"# Bottleneck sweep: {result['model']} autoencoders on {result['dataset']}", "",
             f"{len(sizes)} code sizes × {len(seeds)} seed(s), trained together for {result['epochs']} epoch(s) on "
             f"{result['n_train']} training images, evaluated on {result['n_test']} test images "
             f"({result['seconds_training']:.1f} s). BCE is in nats per pixel; *excess* is BCE minus the entropy floor of "
             f"the images themselves (test {result['bce_floor']['test']:.4f}, train {result['bce_floor']['train']:.4f}), "
             "the part a model can remove. Train values are evaluated on the training set after training.", "",
             "| code size | train excess | test excess | gap (excess) | test MSE | gap (MSE) | seed sd (test BCE) | PCA test excess | PCA test MSE |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in sizes:
        m, sd, pca = e["mean"], e["std"]["test_bce"], e["pca"]
        lines.append(f"| {e['code_size']} | {m['train_bce_excess']:.4f} | {m['test_bce_excess']:.4f} | {m['gap_bce_excess']:+.4f} | "
                     f"{m['test_mse']:.5f} | {m['gap_mse']:+.5f} | {'–' if sd is None else f'{sd:.4f}'} | "
                     f"{pca['test_bce_excess']:.4f} | {pca['test_mse']:.5f} |")
    lines += ["", "## Where the curve flattens", "",
              f"Measured on the mean test BCE *excess* (plain BCE is dominated by the floor, so every size would be within "
              f"{pct} of the best): the best is {flat['best_value']:.4f} at code size {flat['best_code_size']}; the smallest "
              f"size within {pct} of it (≤ {flat['threshold']:.4f}) is **{flat['code_size']}** ({flat['value']:.4f}). "
              f"On test MSE the best is {flat_mse['best_value']:.5f} at {flat_mse['best_code_size']} and the smallest size "
              f"within {pct} is {flat_mse['code_size']}."
              + (f" No smaller size comes within {pct} of the best excess: the curve has not flattened by code size "
                 f"{flat['code_size']}." if flat["code_size"] == sizes[-1]["code_size"] and len(sizes) > 1 else ""),
              "", *rise_sentence(sizes, flat), "",
              "## Train–test gap", "", gap_sentence(sizes, result["bce_floor"]), "", "## Spread across seeds", "", spread_sentence(sizes, seeds),
              "", "## PCA reference", "", pca_sentence(sizes), ""]
    return "\n".join(lines)


def rise_sentence(sizes: list[dict], flat: dict) -> list[str]:
    """A line on whether test loss rises past its best size (the variance side of the curve), if it does."""
    values = [e["mean"]["test_bce_excess"] for e in sizes]
    best = values.index(min(values))
    if best == len(values) - 1:
        return [f"The mean test excess is lowest at the largest size, {sizes[-1]['code_size']}: it does not rise within this range."]
    worst = max(range(best + 1, len(values)), key=values.__getitem__)
    return [f"Past code size {flat['best_code_size']} the mean test excess rises, up to {values[worst]:.4f} at "
            f"{sizes[worst]['code_size']} ({values[worst] / values[best] - 1:+.1%} over the best)."]


def gap_sentence(sizes: list[dict], floors: dict[str, float]) -> str:
    """The gap in excess BCE (test − train), its trend, and how much of the raw BCE gap is the floors'."""
    gaps = [e["mean"]["gap_bce_excess"] for e in sizes]
    ks = [e["code_size"] for e in sizes]
    trend = "grows with every step in size" if all(b > a for a, b in zip(gaps, gaps[1:])) else "is not monotone in size"
    relative = [g / e["mean"]["test_bce_excess"] for g, e in zip(gaps, sizes)]
    raw = [e["mean"]["gap_bce"] for e in sizes]
    return (f"Test minus train BCE *excess* (mean over seeds) goes from {gaps[0]:+.4f} at code size {ks[0]} to "
            f"{gaps[-1]:+.4f} at {ks[-1]}, ranging {min(gaps):+.4f} … {max(gaps):+.4f}; it {trend}. As a share of the "
            f"test excess it is {relative[0]:.1%} at {ks[0]} and {relative[-1]:.1%} at {ks[-1]}. The raw BCE gap "
            f"({min(raw):+.4f} … {max(raw):+.4f}) also holds the difference of the entropy floors, test − train = "
            f"{floors['test'] - floors['train']:+.4f}, which is the data's, not the model's.")


def spread_sentence(sizes: list[dict], seeds: list[int]) -> str:
    if len(seeds) < 2:
        return "One seed per size: the spread across seeds was not measured (run with --seeds 2 or more)."
    sds = [e["std"]["test_bce"] for e in sizes]
    widest = int(np.argmax(sds))
    steps = [abs(b["mean"]["test_bce"] - a["mean"]["test_bce"]) for a, b in zip(sizes, sizes[1:])]
    resolved = sum(step > 2 * max(a["std"]["test_bce"], b["std"]["test_bce"]) for step, a, b in zip(steps, sizes, sizes[1:]))
    return (f"Standard deviation of the final test BCE over {len(seeds)} seeds (initialisation only: data and batch "
            f"order are shared): {min(sds):.4f} … {max(sds):.4f}, largest at code size {sizes[widest]['code_size']} "
            f"({sds[widest] / sizes[widest]['mean']['test_bce_excess']:.1%} of its test excess). "
            f"{resolved} of {len(steps)} steps between adjacent sizes exceed twice the larger of their two sds.")


def pca_sentence(sizes: list[dict]) -> str:
    below = [e["code_size"] for e in sizes if e["mean"]["test_mse"] < e["pca"]["test_mse"]]
    above = [e["code_size"] for e in sizes if e["mean"]["test_mse"] >= e["pca"]["test_mse"]]
    listed = lambda ks: ", ".join(map(str, ks)) or "none"  # noqa: E731
    return (f"PCA (closed form, on the same training images) is the best *linear* reconstruction at each size. "
            f"The autoencoders' mean test MSE is below PCA's at code sizes: {listed(below)}; at or above it at: {listed(above)}.")
