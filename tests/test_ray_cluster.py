"""`aelab run --ray` on a real Ray cluster on this machine: `ray start --head` on 127.0.0.1 and a
second node joined to it, one CPU each.

A 12-cell study runs on it while one worker process is SIGKILLed in the middle of a cell: Ray
starts that cell again, the study completes with every cell, and each cell's weights and metrics
are bit-identical to the same study run locally with the same seeds; no folder is half-written or
written twice; a rerun skips every finished cell. The cluster is stopped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from aelab.cli import main
from aelab.runs.folder import FINISHED

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
STUDY = """
title = "Twelve cells on Ray"
datasets = ["fashion-mnist"]

[[steps]]
name = "grid"
kind = "train"
model = "shallow"
code_size = 8
epochs = 1
train_size = 6000
test_size = 1000
learning_rate = [0.001, 0.002, 0.003]
l1 = [0.0, 1e-5]
batch_size = [32, 64]
"""
TASK_TITLE = "ray::train_step_files"  # the process title Ray gives a worker while it runs our task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "ray"), *args], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def cluster():
    """A head node and a second node on 127.0.0.1, one CPU each; stopped (all of it) at the end."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]
    try:
        ray_cli(
            "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}", *common, env=env
        )
        ray_cli(
            "start", f"--address=127.0.0.1:{port}", f"--dashboard-agent-listen-port={free_port()}", *common, env=env
        )
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True, env=env, timeout=120)


def task_processes() -> list[int]:
    """PIDs of worker processes running a cell now."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if command.startswith(TASK_TITLE):
                pids.append(int(entry.name))
    return pids


def cell_results(out: Path) -> dict[str, tuple[bytes, list]]:
    """Each cell's weights (each tensor's bytes) and per-epoch metrics without the wall-clock fields, by folder."""
    results = {}
    for marker in out.rglob(FINISHED):
        folder = marker.parent
        if folder == out:
            continue
        epochs = json.loads((folder / "metrics.json").read_text())["epochs"]
        weights = load_file(
            folder / "model.safetensors"
        )  # tensors, not file bytes: safetensors orders its metadata per process
        results[str(folder.relative_to(out))] = (
            {k: v.numpy().tobytes() for k, v in weights.items()},
            [{k: v for k, v in e.items() if "seconds" not in k} for e in epochs],
        )
    return results


def test_a_study_survives_a_killed_worker_and_matches_the_local_run(cluster, real_data_dir, tmp_path, capsys):
    study = tmp_path / "twelve.toml"
    study.write_text(STUDY)
    env = {**os.environ, "AELAB_DATA_DIR": str(real_data_dir), "RAY_USAGE_STATS_ENABLED": "0"}
    command = [str(BIN / "aelab"), "run", str(study), "--out", str(tmp_path / "ray"), "--ray", cluster]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    killed = None
    deadline = time.monotonic() + 240
    while killed is None and driver.poll() is None and time.monotonic() < deadline:
        running = task_processes()
        if running:
            time.sleep(0.3)  # into the cell's training, not its first instruction
            if running[0] in task_processes():
                os.kill(running[0], signal.SIGKILL)
                killed = running[0]
        time.sleep(0.02)
    output, _ = driver.communicate(timeout=600)
    assert killed is not None, "no worker was seen running a cell:\n" + output
    assert driver.returncode == 0, output
    assert "12/12 cells done" in output

    assert main(["run", str(study), "--out", str(tmp_path / "local"), "--quiet", "--workers", "2"]) == 0
    on_ray, local = cell_results(tmp_path / "ray"), cell_results(tmp_path / "local")
    assert len(on_ray) == 12 and on_ray.keys() == local.keys()
    for name in local:
        (weights, epochs), (local_weights, local_epochs) = on_ray[name], local[name]
        assert weights == local_weights, f"{name}: the Ray cell's weights differ from the local one's"
        # Every metric bit for bit but the per-epoch test loss, which on an AMD EPYC (Zen 3) differs between two runs
        # of the same study with --workers 2 in its 9th digit (weights identical; seen on the code before issue 25's
        # restructuring too): an open question noted on issue 25, not hidden here beyond that digit.
        assert [{k: v for k, v in e.items() if k != "test_loss"} for e in epochs] == [
            {k: v for k, v in e.items() if k != "test_loss"} for e in local_epochs
        ], name
        assert [e["test_loss"] for e in epochs] == pytest.approx([e["test_loss"] for e in local_epochs], rel=1e-8)

    manifest = json.loads((tmp_path / "ray" / "reproduce.json").read_text())
    assert [s["status"] for s in manifest["steps"]] == ["run"] * 12
    assert manifest["ray"]["address"] == cluster
    leftovers = [p for p in (tmp_path / "ray").rglob("*") if p.name.startswith(".") or p.name == "aelab.lock"]
    assert leftovers == []  # no temporary file of a half-written copy, no lock left behind

    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").rglob("model.safetensors")}
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already done, skipped") + again.stderr.count("already done, skipped") == 12
    assert {p: p.stat().st_mtime_ns for p in written} == written  # each cell written exactly once
