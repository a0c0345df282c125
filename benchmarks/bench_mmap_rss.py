"""Training from a memory-mapped .npy ten times larger than an RSS budget (issue 19): peak memory measured.

Writes FOLDER/x_train.npy (float32 in [0, 1], 784 features, --factor × --budget-mb in size, written
in pieces through a memory map so the writer stays small too) and a 2,000-row x_test.npy, then runs
`aelab train --dataset FOLDER` for one epoch in a child process, sampling /proc/PID/status every
20 ms. It reports the peaks of:

    RssAnon   memory the process owns (arrays, tensors, the model): what a bounded-memory claim is about
    RssFile   pages of mapped files resident in the process (the .npy's pages as training touches them):
              clean pages of a file, reclaimed by the kernel whenever memory is needed, never swapped
    VmHWM     the kernel's high-water mark of the whole RSS (anonymous + file + shared)

and the same for a baseline run on a 2,000-row x_train.npy (the fixed cost: Python, PyTorch, the
model, the figures). The claim holds when the big run's RssAnon peak exceeds the baseline's by less
than the budget (`within_budget`); run it under a
memory limit (e.g. `systemd-run --scope -p MemoryMax=256M …`) to see it train where the file
does not fit. Do not read timings from it; it measures memory.

    .venv/bin/python benchmarks/bench_mmap_rss.py [--budget-mb 256] [--factor 10] [--folder /tmp/aelab-big-npy]
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

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import peak_status_kb  # noqa: E402

FEATURES = 784
FIELDS = ("RssAnon", "RssFile", "VmHWM")


def write_arrays(folder: Path, rows: int, seed: int = 0) -> Path:
    """x_train.npy (rows × 784 float32) and x_test.npy (2,000 rows), written in pieces through open_memmap."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, n in (("x_train.npy", rows), ("x_test.npy", 2_000)):
        path = folder / name
        if path.is_file() and np.load(path, mmap_mode="r").shape == (n, FEATURES):
            continue
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, FEATURES))
        for start in range(0, n, 16_384):
            stop = min(n, start + 16_384)
            out[start:stop] = rng.random((stop - start, FEATURES), dtype=np.float32)
            out.flush()
        del out
    return folder


def peak_memory(folder: Path, out: Path) -> dict:
    """Run one epoch of `aelab train --dataset folder` and sample its memory until it ends."""
    command = [
        sys.executable,
        "-m",
        "aelab",
        "train",
        "--dataset",
        str(folder),
        "--epochs",
        "1",
        "--quiet",
        "--force",
        "--out",
        str(out),
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.perf_counter()
    peaks = peak_status_kb(child, FIELDS)
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"aelab train failed ({child.returncode}): {stderr.strip()}")
    return {
        "peak_mib": {key: round(value / 1024, 1) for key, value in peaks.items()},
        "wall_seconds": time.perf_counter() - start,
        "result": stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-mb", type=float, default=256.0, help="the RSS budget (MiB) the file is a multiple of")
    parser.add_argument("--factor", type=float, default=10.0, help="file size / budget")
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "aelab-big-npy"))
    args = parser.parse_args()
    rows = int(args.factor * args.budget_mb * 2**20 / (FEATURES * 4))
    big = write_arrays(Path(args.folder), rows)
    with tempfile.TemporaryDirectory() as tmp:
        small = write_arrays(Path(tmp) / "small", 2_000)
        baseline = peak_memory(small, Path(tmp) / "run-small")
        measured = peak_memory(big, Path(tmp) / "run-big")
    size_mib = (big / "x_train.npy").stat().st_size / 2**20
    above = measured["peak_mib"]["RssAnon"] - baseline["peak_mib"]["RssAnon"]
    print(
        json.dumps(
            {
                "x_train_mib": round(size_mib, 1),
                "budget_mib": args.budget_mb,
                "baseline_2000_rows": baseline,
                "big": measured,
                "anonymous_above_baseline_mib": round(above, 1),
                "within_budget": above <= args.budget_mb,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
