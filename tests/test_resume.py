"""Checkpoints and exact resume: a killed or interrupted run continues to the same bits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from aelab.config import FigureConfig, TrainConfig
from aelab.errors import CheckpointError, TrainingError
from aelab.runs.checkpointing import CHECKPOINT
from aelab.tasks.train import train_run
from aelab.train.checkpoint import load_checkpoint

# the whole training set: an epoch must last long enough (~0.5 s) for a signal to land mid-epoch
ARGS = [
    "--train-size",
    "60000",
    "--test-size",
    "500",
    "--epochs",
    "3",
    "--n-images",
    "2",
    "--n-weights",
    "2",
    "--quiet",
]


def aelab(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "AELAB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "aelab", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def run_to_end(*args: str) -> subprocess.CompletedProcess:
    proc = aelab(*args)
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_for(path, proc, timeout=300.0) -> None:
    start = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, f"process ended before {path} appeared: {proc.communicate()[1]}"
        assert time.monotonic() - start < timeout
        time.sleep(0.02)


def same_result(a, b) -> None:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # bit-identical weights
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    strip = lambda m: [{k: v for k, v in e.items() if k != "seconds"} for e in m["epochs"]]  # noqa: E731
    assert strip(ma) == strip(mb)
    assert {k: v for k, v in ma["final"].items()} == {k: v for k, v in mb["final"].items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, request):
    data = os.environ.get("AELAB_DATA_DIR")
    if not data:
        pytest.skip("AELAB_DATA_DIR is not set")
    out = tmp_path_factory.mktemp("reference") / "run"
    done = run_to_end("train", "--data-dir", data, "--out", str(out), *ARGS)
    assert done.returncode == 0, done.stderr
    return out


def test_sigkill_mid_run_then_resume_is_bit_identical(real_data_dir, reference, tmp_path):
    out = tmp_path / "run"
    proc = aelab("train", "--data-dir", str(real_data_dir), "--out", str(out), *ARGS)
    wait_for(out / CHECKPOINT, proc)  # epoch 1 is done; epoch 2 is under way
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not (out / "finished.json").exists()
    _, info = load_checkpoint(out / CHECKPOINT)  # the checkpoint on disk is whole
    assert info["epoch"] >= 2
    done = run_to_end("train", "--data-dir", str(real_data_dir), "--out", str(out), *ARGS, "--resume")
    assert done.returncode == 0, done.stderr
    same_result(reference, out)


def test_sigint_finishes_step_saves_and_resume_is_bit_identical(real_data_dir, reference, tmp_path):
    out = tmp_path / "run"
    proc = aelab("train", "--data-dir", str(real_data_dir), "--out", str(out), *[a for a in ARGS if a != "--quiet"])
    wait_for(out / CHECKPOINT, proc)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    last = err.strip().splitlines()[-1]
    assert last.startswith("aelab: error: interrupted at epoch") and "--resume" in last
    _, info = load_checkpoint(out / CHECKPOINT)
    assert info["step"] > 0  # saved mid-epoch, right after the step in progress
    done = run_to_end("train", "--data-dir", str(real_data_dir), "--out", str(out), *ARGS, "--resume")
    assert done.returncode == 0, done.stderr
    same_result(reference, out)


def test_resume_refuses_another_configuration(real_data_dir, reference, tmp_path, capsys):
    from aelab.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / CHECKPOINT).write_bytes((reference / CHECKPOINT).read_bytes())
    assert (
        main(["train", "--data-dir", str(real_data_dir), "--out", str(out), *ARGS, "--code-size", "16", "--resume"])
        == 5
    )
    err = capsys.readouterr().err
    assert "saved for another configuration: code_size=32 (asked for 16)" in err and err.count("\n") == 1


def test_resume_without_checkpoint_is_refused(real_data_dir, tmp_path, capsys):
    from aelab.cli import main

    assert main(["train", "--quick", "--data-dir", str(real_data_dir), "--out", str(tmp_path / "r"), "--resume"]) == 5
    err = capsys.readouterr().err
    assert "nothing to resume (no checkpoint" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()  # refused before the folder is made (an empty one was left before)


def test_divergence_stops_and_keeps_the_last_good_checkpoint(real_data_dir, tmp_path, monkeypatch):
    from aelab.objectives import ReconstructionObjective

    calls = {"n": 0}

    class Diverging(ReconstructionObjective):
        def __call__(self, logits, code, target):
            calls["n"] += 1
            loss, parts = super().__call__(logits, code, target)
            return (
                (loss * float("nan"), parts) if calls["n"] > 70 else (loss, parts)
            )  # epoch 1: 63 steps + 1 evaluation

    monkeypatch.setattr("aelab.tasks.recipe.objective_for", lambda l1, reduction: Diverging())
    config = TrainConfig(
        train_size=2000, test_size=200, epochs=3, engine="autograd"
    )  # the objective drives autograd steps
    with pytest.raises(
        TrainingError,
        match=r"epoch 2, step 7: training loss became nan.*last good checkpoint \(end of epoch 1\) is kept",
    ):
        train_run(
            config,
            tmp_path / "run",
            FigureConfig(n_images=1, n_weights=1),
            data_dir=real_data_dir,
            quiet=True,
            log=lambda m: None,
        )
    _, info = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert info["epoch"] == 2 and info["step"] == 0
    assert not (tmp_path / "run" / "finished.json").exists()


def test_same_seed_same_metrics_twice(real_data_dir, tmp_path):
    config = TrainConfig(train_size=1500, test_size=300, epochs=2, model="denoising")
    runs = [
        train_run(
            config,
            tmp_path / f"r{i}",
            FigureConfig(n_images=1, n_weights=1),
            data_dir=real_data_dir,
            quiet=True,
            log=lambda m: None,
        )
        for i in range(2)
    ]
    strip = lambda m: ([{k: v for k, v in e.items() if k != "seconds"} for e in m["epochs"]], m["final"])  # noqa: E731
    assert strip(runs[0]) == strip(runs[1])
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "r0" / "model.safetensors")  # weights are not a checkpoint


def test_sweep_interrupted_then_resumed_matches_uninterrupted(real_data_dir, tmp_path):
    args = [
        "sweep",
        "--data-dir",
        str(real_data_dir),
        "--code-sizes",
        "5,20",
        "--seeds",
        "2",
        "--train-size",
        "8000",
        "--test-size",
        "500",
        "--epochs",
        "8",
    ]  # 8: still training 0.2 s after the first checkpoint
    reference = run_to_end(*args, "--out", str(tmp_path / "ref"), "--quiet")
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "run"
    proc = aelab(*args, "--out", str(out))
    wait_for(out / CHECKPOINT, proc)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err
    done = run_to_end(*args, "--out", str(out), "--quiet", "--resume")
    assert done.returncode == 0, done.stderr
    a, b = (json.loads((d / "sweep.json").read_text()) for d in (tmp_path / "ref", out))
    assert [s["runs"] for s in a["sizes"]] == [s["runs"] for s in b["sizes"]]  # every per-epoch and final loss, exactly


def test_second_ctrl_c_quits_at_once_and_keeps_the_previous_checkpoint(real_data_dir, tmp_path):
    out = tmp_path / "run"
    proc = aelab("train", "--data-dir", str(real_data_dir), "--out", str(out), *ARGS)
    wait_for(out / CHECKPOINT, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    load_checkpoint(out / CHECKPOINT)  # whole: the previous one, or the one the first Ctrl-C completed
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert not (out / "finished.json").exists()
