"""The whole study on Fashion-MNIST, end to end: `aelab reproduce` against the original Keras study.

Contenders, alternated (Keras, aelab, aelab one step at a time, Keras, …), each a fresh process:
  aelab reproduce          — `aelab reproduce --datasets fashion-mnist` into an empty folder: gradient
                             checks, shallow, deep, denoising and sparse models, the 7-size sweep with
                             PCA, every figure and the report (two training steps at a time, the default)
  aelab reproduce, 1 worker — the same with `--workers 1` (steps one after another)
  keras study              — benchmarks/peers/keras_study.py --study in .venv-peers: shallow, deep,
                             denoising, the 7-size sweep, each fit with the test set as validation
                             data, then predict (as the original code); left out without `make bench-peers`
Wall seconds of the whole command (start-up included for both) and its peak resident memory
(ru_maxrss of the process, from wait4). aelab does more than the Keras study (gradient checks,
the sparse model, PCA, figures, the report), and the ratio counts all of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from common import summary  # noqa: E402
from peer_runs import PEERS_PYTHON, ROOT  # noqa: E402

AELAB = Path(sys.executable).with_name("aelab")


def measure(command: list[str], env: dict) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in bytes, stdout) of one command run to completion."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}")
    return seconds, usage.ru_maxrss * 1024, out


def aelab_study(data_dir: str, workers: int) -> tuple[float, int, dict]:
    folder = tempfile.mkdtemp(prefix="aelab-bench-")
    try:
        seconds, rss, _ = measure(
            [
                str(AELAB),
                "reproduce",
                "--datasets",
                "fashion-mnist",
                "--out",
                folder,
                "--quiet",
                "--workers",
                str(workers),
            ],
            {**os.environ, "AELAB_DATA_DIR": data_dir},
        )
        losses = final_losses(Path(folder) / "fashion-mnist")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return seconds, rss, losses


def final_losses(study: Path) -> dict[str, dict[str, float]]:
    """Last epoch's mean training loss and test loss of each model the Keras study also trains, by Keras' names."""
    losses = {}
    for model in ("shallow", "deep", "denoising"):
        last = json.loads((study / model / "metrics.json").read_text())["epochs"][-1]
        losses[f"{model} 32"] = {"train_loss": last["train_loss"], "test_loss": last["test_loss"]}
    for size in json.loads((study / "sweep" / "sweep.json").read_text())["sizes"]:
        last = size["runs"][0]["epochs"][-1]
        losses[f"shallow {size['code_size']}"] = {"train_loss": last["train_bce"], "test_loss": last["test_bce"]}
    return losses


def loss_differences(ours: dict, keras_runs: list[dict]) -> dict[str, dict[str, float]]:
    """aelab − Keras, per model, for the last epoch's training loss and test loss."""
    theirs = {f"{r['model']} {r['code_size']}": r for r in keras_runs}
    return {
        name: {key: ours[name][key] - theirs[name][key] for key in ("train_loss", "test_loss")}
        for name in ours
        if name in theirs
    }


def keras_study(data_dir: str) -> tuple[float, int, dict]:
    seconds, rss, out = measure(
        [str(PEERS_PYTHON), str(ROOT / "benchmarks/peers/keras_study.py"), "--study", "--data-dir", data_dir],
        {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return seconds, rss, json.loads(out.strip().splitlines()[-1])


def run(data_dir: str, repeats: int = 2) -> dict:
    times: dict[str, list[float]] = {"aelab reproduce": [], "aelab reproduce, 1 worker": []}
    memory: dict[str, list[int]] = {"aelab reproduce": [], "aelab reproduce, 1 worker": []}
    keras_runs = []
    if PEERS_PYTHON.exists():
        times["keras study"], memory["keras study"] = [], []
    for _ in range(repeats):
        if PEERS_PYTHON.exists():
            seconds, rss, detail = keras_study(data_dir)
            times["keras study"].append(seconds), memory["keras study"].append(rss), keras_runs.append(detail)
        for name, workers in (("aelab reproduce", 2), ("aelab reproduce, 1 worker", 1)):
            seconds, rss, losses = aelab_study(data_dir, workers)
            times[name].append(seconds), memory[name].append(rss)
    table = {name: {"seconds": summary(times[name]), "peak_rss_bytes": max(memory[name])} for name in times}
    table["aelab reproduce"]["losses"] = losses
    if keras_runs:
        table["keras study"]["in_fit_seconds"] = summary([r["study_seconds"] for r in keras_runs])
        table["keras study"]["runs"] = keras_runs[-1]["runs"]
        table["loss differences"] = loss_differences(losses, keras_runs[-1]["runs"])
    print_table(table)
    return table


def print_table(table: dict) -> None:
    ours = table["aelab reproduce"]["seconds"]["median"]
    print(
        "\nthe whole study on Fashion-MNIST, end to end (medians of alternated runs; ratio = time / aelab reproduce):"
    )
    for name, row in ((n, r) for n, r in table.items() if "seconds" in r):
        s = row["seconds"]
        print(
            f"  {name:<27} {s['median']:7.1f} s [{s['min']:.1f}–{s['max']:.1f}]  {s['median'] / ours:5.2f}×   "
            f"peak RSS {row['peak_rss_bytes'] / 2**30:.2f} GiB"
        )
    if "keras study" in table:
        print(
            f"  aelab reproduce is {table['keras study']['seconds']['median'] / ours:.1f}× faster than the Keras study "
            f"(which spent {table['keras study']['in_fit_seconds']['median']:.0f} s in fit and predict)"
        )
        print("  final losses, aelab − Keras (last epoch's mean training loss; test loss):")
        for name, d in table["loss differences"].items():
            print(f"    {name:<12} {d['train_loss']:+.4f}   {d['test_loss']:+.4f}")


if __name__ == "__main__":
    run(os.environ.get("AELAB_DATA_DIR", str(ROOT.parent / "shared" / "data")))
