"""Timings of issue 15's work on both data sets: the full ten-class one-class study, and the probes.

  anomaly      — `aelab anomaly` on all ten classes (shallow, code 32, 20 epochs, one seed): ten models
                 trained one after another, plus PCA and the two kNN baselines per class
  probe codes  — `aelab probe` on a finished shallow run (code 32): linear and kNN probes on 60,000 codes,
                 the PCA row of the same size and the raw-pixel row, and the t-SNE figure
  raw pixels   — the probes on the raw pixels alone, full training and test sets: the reproduction of the
                 Fashion-MNIST paper's rows (Table 3: 0.842 / 0.917 linear, 0.854 / 0.959 kNN), with the accuracies

Run it on an idle machine (`.venv/bin/python benchmarks/bench_anomaly_probe.py [--epochs N]`); it writes its run
folders under a temporary folder and prints seconds and the AUROC / accuracy each step measured.
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
from aelab.data import load_dataset  # noqa: E402
from aelab.experiments.anomaly import format_table, run_anomaly  # noqa: E402
from aelab.experiments.probe import PUBLISHED_RAW, probe_accuracy  # noqa: E402
from aelab.experiments.probe_runs import format_probes, probe_runs  # noqa: E402
from aelab.experiments.train_one import train_run  # noqa: E402

DATASETS = ("mnist", "fashion-mnist")


def timed(what: str, function):
    start = time.perf_counter()
    result = function()
    print(f"{what}: {time.perf_counter() - start:.1f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=AnomalyConfig().epochs, help="epochs per one-class model")
    args = parser.parse_args()
    quiet = lambda message: None  # noqa: E731
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        for name in DATASETS:
            result = timed(f"{name}: anomaly, ten classes, {args.epochs} epochs",
                           lambda: run_anomaly(AnomalyConfig(dataset=name, epochs=args.epochs), Path(folder) / name / "anomaly",
                                               quiet=True, log=quiet))
            print(format_table(result))
            run = Path(folder) / name / "shallow"
            train_run(TrainConfig(dataset=name, model="shallow", code_size=32), run, quiet=True, log=quiet)
            print(format_probes(timed(f"{name}: probe of a shallow code-32 run", lambda: probe_runs([run], ProbeConfig(), log=quiet))))
            data = load_dataset(name, progress=False)
            pixels = timed(f"{name}: raw-pixel probes, 60,000 / 10,000", lambda: probe_accuracy(
                data.train_images, data.train_labels, data.test_images, data.test_labels, ProbeConfig()))
            print(f"{name}: raw pixels linear {pixels['linear']:.4f} (published {PUBLISHED_RAW[name]['linear']}), "
                  f"kNN {pixels['knn']:.4f} (published {PUBLISHED_RAW[name]['knn']}), converged {pixels['converged']}")


if __name__ == "__main__":
    main()
