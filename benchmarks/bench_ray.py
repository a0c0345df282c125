"""Cells per minute of a study on Ray: one node against two, on this machine (docs/SCALING.md reads it).

A real cluster made with `ray start`: a head node with one CPU, then a second node with one CPU
joined to it; the same 12-cell study (shallow models, 5 epochs on Fashion-MNIST's 60,000 images,
a grid over learning rate × L1 × batch size, so no two cells batch together) runs on one node,
then on both, alternating, twice each; medians with [min–max]. Also measured, for the cost model:
each cell's seconds on its worker, the bytes it sends back, and the driver's seconds to write it.

Run on an idle machine: `python benchmarks/bench_ray.py` (about 4 minutes). It stops every Ray
process on the machine at the end (`ray stop --force`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, summary  # noqa: E402

import aelab.studies.on_ray as on_ray  # noqa: E402
from aelab.studies import parse_study  # noqa: E402
from aelab.studies.cluster import RaySettings  # noqa: E402
from aelab.studies.runner import run_study  # noqa: E402

RAY = Path(sys.executable).with_name("ray")
STUDY = """datasets = ["fashion-mnist"]
[[steps]]
name = "grid"
kind = "train"
model = "shallow"
code_size = 32
epochs = 5
learning_rate = [0.001, 0.002, 0.003]
l1 = [0.0, 1e-5]
batch_size = [32, 64]
"""
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
COMMON = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli(*args: str) -> None:
    subprocess.run([str(RAY), *args], check=True, capture_output=True, env=ENV, timeout=180)


def timed_study(address: str, out: Path) -> float:
    """Seconds of the whole study on the cluster at `address`, written into a fresh `out`."""
    shutil.rmtree(out, ignore_errors=True)
    study = parse_study(STUDY, "bench_ray.toml", "bench-ray")
    begin = time.perf_counter()
    run_study(study, out, quiet=True, log=lambda line: None, ray=RaySettings(address=address))
    return time.perf_counter() - begin


def main() -> None:
    writes: list[tuple[float, int]] = []
    original = on_ray.write_step_files

    def measured_write(folder, files, log=None):  # the driver's share of each cell, for the cost model
        begin = time.perf_counter()
        original(folder, files, log)
        writes.append((time.perf_counter() - begin, sum(len(b) for b in files.values())))

    on_ray.write_step_files = measured_write
    times: dict[str, list[float]] = {"one node": [], "two nodes": []}
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        for _ in range(2):
            temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
            port = free_port()
            ray_cli("start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}", *COMMON)
            times["one node"].append(timed_study(f"127.0.0.1:{port}", work / "one"))
            ray_cli("start", f"--address=127.0.0.1:{port}", f"--dashboard-agent-listen-port={free_port()}", *COMMON)
            times["two nodes"].append(timed_study(f"127.0.0.1:{port}", work / "two"))
            ray_cli("stop", "--force")
        manifest = json.loads((work / "two" / "reproduce.json").read_text())
        cells = [s["seconds"] for s in manifest["steps"]]
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, env=ENV)
        shutil.rmtree(work, ignore_errors=True)
    n = len(cells)
    result = {
        "machine": machine(),
        "cells": n,
        "study_seconds": {name: summary(samples) for name, samples in times.items()},
        "cells_per_minute": {name: 60 * n / statistics.median(samples) for name, samples in times.items()},
        "cell_seconds_on_worker": summary(cells),
        "driver_write_seconds_per_cell": summary([w for w, _ in writes]),
        "bytes_per_cell": statistics.median(b for _, b in writes),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
