"""Timings of issue 15's work on both data sets, as one table: the full ten-class one-class study, and the probes.

Per data set (MNIST, Fashion-MNIST):
  anomaly      — `aelab anomaly` on all ten classes (shallow, code 32, 20 epochs, one seed): ten models
                 trained one after another, plus PCA and the two kNN baselines per class; the mean AUROC
  train        — the shallow code-32 run the probes read (not part of either timing; listed for context)
  probe        — `aelab probe` on that run, split into its parts as probe.json records them: the linear
                 and kNN probes on 60,000 codes, on PCA coordinates of the same size, on the raw pixels
                 (the reproduction of the Fashion-MNIST paper's rows, Table 3: 0.842 / 0.917 linear,
                 0.854 / 0.959 kNN), and the whole call with the t-SNE figure

Run it on an idle machine: `.venv/bin/python benchmarks/bench_anomaly_probe.py` (about half an hour);
`--quick` is a smoke run of the script itself (1 epoch, 2,000 training images: its numbers mean nothing).
Run folders go to a temporary folder; the table is printed at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model  # noqa: E402

from aelab.config import AnomalyConfig, ProbeConfig, TrainConfig  # noqa: E402
from aelab.tasks.anomaly.run import run_anomaly  # noqa: E402
from aelab.tasks.probe.features import PUBLISHED_RAW  # noqa: E402
from aelab.tasks.probe.runs import probe_runs  # noqa: E402
from aelab.tasks.train import train_run  # noqa: E402

DATASETS = ("mnist", "fashion-mnist")
QUICK = {"epochs": 1, "train_size": 2000, "test_size": 2000}


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def dataset_rows(name: str, folder: Path, epochs: int, quick: bool) -> list[tuple[str, str, float, str]]:
    """(data set, step, seconds, what it measured) for one data set."""
    quiet = lambda message: None  # noqa: E731
    sizes = {k: v for k, v in QUICK.items() if k != "epochs"} if quick else {}
    config = AnomalyConfig(dataset=name, epochs=epochs, **({"train_size": 200, "test_size": 2000} if quick else {}))
    result, seconds = timed(lambda: run_anomaly(config, folder / name / "anomaly", quiet=True, log=quiet))
    overall = result["overall"]
    rows = [
        (
            name,
            f"anomaly: 10 classes × {epochs} epochs, baselines",
            seconds,
            "mean AUROC " + ", ".join(f"{m} {overall[m]['auroc']:.3f}" for m in ("ae_sse", "pca", "knn_pixels")),
        )
    ]
    run = folder / name / "shallow"
    metrics, seconds = timed(
        lambda: train_run(
            TrainConfig(dataset=name, model="shallow", code_size=32, epochs=epochs if quick else None, **sizes),
            run,
            quiet=True,
            log=quiet,
        )
    )
    rows.append(
        (name, "train: shallow, code 32 (the probes' input)", seconds, f"test BCE {metrics['final']['test_bce']:.4f}")
    )
    probe = ProbeConfig(
        train_size=QUICK["train_size"] if quick else None, tsne_size=300 if quick else ProbeConfig().tsne_size
    )
    (result,), seconds = timed(lambda: probe_runs([run], probe, log=quiet))
    labels = {"codes": "probe: 32-unit codes", "pca": "probe: PCA, 32 components", "pixels": "probe: raw pixels"}
    for row in result["rows"]:
        label = labels[row["features"]]
        published = PUBLISHED_RAW[name] if row["features"] == "pixels" else None
        rows.append(
            (
                name,
                f"{label}, linear",
                row["linear_seconds"],
                f"accuracy {row['linear']:.4f}"
                + (f" (published {published['linear']})" if published else "")
                + ("" if row["converged"] else ", not converged"),
            )
        )
        rows.append(
            (
                name,
                f"{label}, kNN (k = 5)",
                row["knn_seconds"],
                f"accuracy {row['knn']:.4f}" + (f" (published {published['knn']})" if published else ""),
            )
        )
    rows.append(
        (name, "probe: whole call (all of the above and t-SNE)", seconds, f"{result['n_train']} training codes")
    )
    return rows


def format_rows(rows: list[tuple[str, str, float, str]]) -> str:
    widths = [max(len("data set"), *(len(r[0]) for r in rows)), max(len(r[1]) for r in rows)]
    lines = [f"{'data set':<{widths[0]}}  {'step':<{widths[1]}}  {'seconds':>8}  result"]
    lines += [f"{d:<{widths[0]}}  {s:<{widths[1]}}  {t:>8.1f}  {r}" for d, s, t, r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=AnomalyConfig().epochs, help="epochs per one-class model")
    parser.add_argument("--quick", action="store_true", help="smoke run of the script (its numbers mean nothing)")
    args = parser.parse_args()
    epochs = QUICK["epochs"] if args.quick else args.epochs
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs"
        + (" (--quick: a smoke run, not a measurement)" if args.quick else ""),
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        rows = [row for name in DATASETS for row in dataset_rows(name, Path(folder), epochs, args.quick)]
    print(format_rows(rows))


if __name__ == "__main__":
    main()
