"""Peak memory of `aelab data inspect` and `aelab train` on each kind of data file, against the array it holds
(issue 27: "within 3× of the array it holds").

For each kind — a float32 .npy, a compressed .npz, a CSV table, a folder of PNGs — a data set of N rows (default
sized so that its float32 array is --mib MiB) is written once, and each command runs in a child process whose
RssAnon (memory the process owns; a memory map's clean file pages are RssFile and not counted) is sampled every
10 ms. The same command on a 500-row copy of the same kind is the baseline (Python, PyTorch, the model: the
fixed cost), so `ratio` = (peak − baseline peak) / the float32 array's size: what the data costs. Memory only;
do not read timings from it.

    .venv/bin/python benchmarks/bench_memory.py [--mib 200] [--kinds npy,npz,csv,png]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, peak_status_kb  # noqa: E402

FEATURES = 256  # a 16×16 image's worth, so that a PNG folder and a table hold the same array
BASELINE_ROWS = 500


def write_data(kind: str, folder: Path, rows: int) -> Path:
    """A data file (or folder) of `kind` holding `rows` samples of FEATURES values (uint8 levels / 255)."""
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, size=(rows, FEATURES), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "npy":
        np.save(folder / "x.npy", levels.astype(np.float32) / 255)
        return folder / "x.npy"
    if kind == "npz":
        np.savez_compressed(folder / "x.npz", x_train=levels.astype(np.float32) / 255)
        return folder / "x.npz"
    if kind == "csv":
        np.savetxt(folder / "x.csv", levels / 255, delimiter=",", fmt="%.6g")
        return folder / "x.csv"
    from PIL import Image

    images = folder / "png"
    images.mkdir(exist_ok=True)
    for i, row in enumerate(levels):
        Image.fromarray(row.reshape(16, 16)).save(images / f"{i:07d}.png")
    return images


def peak_anon_mib(command: list[str]) -> float:
    """The child's peak RssAnon in MiB (sampled from /proc every 10 ms); a failing command stops the benchmark."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = peak_status_kb(child, ("RssAnon",), interval=0.01)["RssAnon"]
    _, stderr = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}): {stderr.strip()}")
    return peak / 1024


def commands(path: Path, out: Path) -> dict[str, list[str]]:
    aelab = [sys.executable, "-m", "aelab"]
    return {
        "inspect": [*aelab, "data", "inspect", str(path)],
        "train": [*aelab, "train", "--dataset", str(path), "--epochs", "1", "--quiet", "--force", "--out", str(out)],
    }


def measure(kind: str, rows: int, root: Path) -> dict:
    big, small = write_data(kind, root / kind / "big", rows), write_data(kind, root / kind / "small", BASELINE_ROWS)
    array_mib = rows * FEATURES * 4 / 2**20
    result = {"rows": rows, "array_mib": round(array_mib, 1)}
    for name in ("inspect", "train"):
        base = peak_anon_mib(commands(small, root / "run-small")[name])
        peak = peak_anon_mib(commands(big, root / "run-big")[name])
        result[name] = {
            "baseline_mib": round(base, 1),
            "peak_mib": round(peak, 1),
            "ratio": round((peak - base) / array_mib, 2),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=200.0, help="size of the float32 array each file holds")
    parser.add_argument("--kinds", default="npy,npz,csv,png")
    args = parser.parse_args()
    rows = int(args.mib * 2**20 / (FEATURES * 4))
    with tempfile.TemporaryDirectory(prefix="aelab-bench-memory-") as tmp:
        table = {kind: measure(kind, rows, Path(tmp)) for kind in args.kinds.split(",")}
    print(json.dumps({"machine": machine(), "features": FEATURES, "kinds": table}, indent=2))


if __name__ == "__main__":
    main()
