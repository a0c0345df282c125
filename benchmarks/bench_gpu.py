"""Training on a CUDA GPU against the CPU: every family's epoch (eager vs captured) and the classic study's time.

    .venv/bin/python benchmarks/bench_gpu.py [--time-limit 540] [--data-dir DIR] [--json FILE]
                                             [--train-size 60000] [--families shallow,deep,...] [--no-study]

One prepared script for a lent GPU machine (the device tool lends one for ~15 minutes: it must end
inside one command's limit). Every measurement is a fresh `aelab train` / `aelab run` process, started
only while time is left and killed at the time limit; what did not fit is reported as "not run".
Without a CUDA GPU (or with a CPU-only PyTorch) it says so and exits 0, measuring nothing.

Per family (MNIST, the family's own batch size and defaults, --train-size images):
  cuda eager     — `--device cuda --engine autograd`: autograd + Adam, a kernel launch per operation
  cuda captured  — `--device cuda` (engine fused → train/captured.py): the whole step replayed as one CUDA graph
  cpu            — `--device cpu`: the default, the compiled engine for the dense families
The GPU's epoch is the second of two (the first holds cuDNN's autotuning and the capture); the CPU's
is its first, which has no such cost. Then `aelab run classic --datasets mnist` whole, on cuda and on the
CPU, wall seconds each. Timings are only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

FAMILIES = ("shallow", "deep", "denoising", "sparse", "conv", "conv-denoising", "vae", "conv-vae", "beta-vae")
CONTENDERS = (
    ("cuda eager", ["--device", "cuda", "--engine", "autograd"], 2),
    ("cuda captured", ["--device", "cuda", "--engine", "compiled"], 2),
    ("cpu", ["--device", "cpu"], 1),
)


class Budget:
    """Seconds left until the script's time limit."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def run(command: list[str], budget: Budget) -> tuple[float | None, str]:
    """(wall seconds, or None if it failed or ran out of time; a note) of one aelab command."""
    if budget.left() < 5:
        return None, "not run: time limit"
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "aelab", *command], capture_output=True, text=True, timeout=budget.left()
        )
    except subprocess.TimeoutExpired:
        return None, "stopped at the time limit"
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return None, f"failed ({proc.returncode}): {(proc.stderr.strip().splitlines() or [''])[-1]}"
    return seconds, "ok"


def family_epoch(family: str, flags: list[str], epochs: int, args, budget: Budget, work: Path) -> dict:
    """The last epoch's seconds of `aelab train --model family` with `flags`, and its engine record."""
    out = work / f"{family}-{'-'.join(flags)}"
    seconds, note = run(
        [
            "train",
            "--model",
            family,
            "--dataset",
            "mnist",
            "--epochs",
            str(epochs),
            "--train-size",
            str(args.train_size),
            "--test-size",
            "1000",
            "--n-images",
            "1",
            "--n-weights",
            "1",
            "--quiet",
            "--force",
            "--out",
            str(out),
            *data_dir(args),
            *flags,
        ],
        budget,
    )
    if seconds is None:
        return {"note": note}
    metrics = json.loads((out / "metrics.json").read_text())
    record = json.loads((out / "config.json").read_text())
    return {"epoch_seconds": metrics["epochs"][-1]["seconds"], "engine": record["engine"], "device": record["device"]}


def study(device: str, args, budget: Budget, work: Path) -> dict:
    seconds, note = run(
        [
            "run",
            "classic",
            "--datasets",
            "mnist",
            "--device",
            device,
            "--quiet",
            "--force",
            "--out",
            str(work / f"study-{device}"),
            *data_dir(args),
        ],
        budget,
    )
    return {"seconds": seconds, "note": note}


def data_dir(args) -> list[str]:
    return ["--data-dir", args.data_dir] if args.data_dir else []


def table(results: dict) -> list[str]:
    lines = [
        "| family | cuda eager (s) | cuda captured (s) | cpu (s) | captured / eager | cpu / captured |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for family, row in results["families"].items():
        times = [row[name].get("epoch_seconds") for name, _, _ in CONTENDERS]
        ratio = lambda a, b: f"{a / b:.2f}" if a and b else "–"  # noqa: E731
        lines.append(
            f"| {family} | "
            + " | ".join(f"{t:.2f}" if t else row[n]["note"] for t, (n, _, _) in zip(times, CONTENDERS))
            + f" | {ratio(times[1], times[0])} | {ratio(times[2], times[1])} |"
        )
    for device, entry in results.get("study", {}).items():
        lines.append(
            f"classic study on mnist, {device}: " + (f"{entry['seconds']:.0f} s" if entry["seconds"] else entry["note"])
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=540, help="seconds for everything (default 540)")
    parser.add_argument("--data-dir", default=os.environ.get("AELAB_DATA_DIR"), help="folder holding mnist/")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--train-size", type=int, default=60000, help="training images per epoch (default 60000)")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated families (default: all)")
    parser.add_argument("--no-study", action="store_true", help="leave out the classic study")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            f"bench_gpu: no CUDA GPU here (PyTorch {torch.__version__}, built for CUDA {torch.version.cuda}): "
            "nothing measured"
        )
        return 0
    budget = Budget(args.time_limit)
    results: dict = {
        "card": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "train_size": args.train_size,
        "families": {},
    }
    print(
        f"bench_gpu: {results['card']}, PyTorch {results['torch']} (CUDA {results['cuda']}), {args.time_limit:.0f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="aelab-bench-gpu-") as tmp:
        work = Path(tmp)
        for family in args.families.split(","):
            results["families"][family] = {
                name: family_epoch(family, flags, epochs, args, budget, work) for name, flags, epochs in CONTENDERS
            }
            print(table({"families": {family: results["families"][family]}})[-1], flush=True)
        if not args.no_study:
            results["study"] = {device: study(device, args, budget, work) for device in ("cuda", "cpu")}
    print("\n".join(table(results)))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
