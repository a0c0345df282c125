"""`aelab reproduce`: the study's plan, one quick run on real data, resuming, forcing, and a missing data set.

`quick_study` runs the quick reproduction once per session (the report tests reuse it): Fashion-MNIST
from a data folder that holds only it, so MNIST is missing and must be skipped, and with an output
folder and a data folder whose names hold HTML, which the report must escape.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from shared_runs import quick_study

from aelab.config import SweepConfig
from aelab.errors import ConfigError
from aelab.studies import execute as reproduce_module
from aelab.studies.plan import PlannedRun, is_done, plan
from aelab.studies.runner import reproduce

FASHION_STEPS = [
    "gradients",
    *(f"fashion-mnist/{m}" for m in ("shallow", "deep", "denoising", "sparse")),
    "fashion-mnist/sweep",
]


@pytest.fixture(scope="module")
def study(tmp_path_factory, real_data_dir) -> dict:  # real_data_dir: marks its tests real_data (conftest)
    return quick_study(tmp_path_factory)


@pytest.fixture
def study_copy(study, tmp_path, monkeypatch) -> Path:
    """A copy of the quick study's folder, with the data of the original run reachable again."""
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    return Path(shutil.copytree(study["out"], tmp_path / "copy", symlinks=True))


def test_the_plan_follows_the_study():
    steps = plan(("mnist", "fashion-mnist"), quick=False)
    assert [s.name for s in steps] == [
        "gradients",
        *(f"{d}/{m}" for d in ("mnist", "fashion-mnist") for m in ("shallow", "deep", "denoising", "sparse")),
        "mnist/sweep",
        "fashion-mnist/sweep",
    ]
    trains = {s.name: s.config for s in steps if s.kind == "train"}
    assert [trains[f"mnist/{m}"].epochs for m in ("shallow", "deep", "denoising", "sparse")] == [5, 10, 10, 5]
    assert trains["mnist/denoising"].fixed_noise and trains["mnist/denoising"].noise == "gaussian"
    assert trains["mnist/sparse"].l1 == 1e-5 and trains["mnist/shallow"].train_size is None
    assert steps[-1].config == SweepConfig(dataset="fashion-mnist") and steps[-1].config.code_sizes == tuple(
        range(5, 100, 15)
    )
    quick = plan(("mnist",), quick=True)
    assert all(s.config.train_size == 2000 and s.config.test_size == 1000 and s.config.epochs == 1 for s in quick[1:])
    assert quick[-1].config.code_sizes == (5, 20)


def test_the_time_left_grows_with_the_work():
    full, quick = plan(("mnist",), quick=False), plan(("mnist",), quick=True)
    assert full[0].cost() == 0 and all(s.cost() > 0 for s in full[1:])
    assert all(f.cost() > 10 * q.cost() for f, q in zip(full[1:], quick[1:]))
    assert full[2].cost() > full[1].cost()  # deep (10 epochs, more weights) costs more than shallow (5 epochs)


def test_an_unknown_data_set_fails_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'mnist'"):
        reproduce(tmp_path / "out", datasets=("mnsit",), quick=True, log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_the_quick_reproduction_runs_every_step_and_skips_the_missing_data_set(study):
    manifest, out, lines = study["manifest"], study["out"], study["lines"]
    status = {r["name"]: r["status"] for r in manifest["steps"]}
    assert [name for name, s in status.items() if s == "run"] == FASHION_STEPS
    assert {name for name, s in status.items() if s == "missing"} == {
        f"mnist/{m}" for m in ("shallow", "deep", "denoising", "sparse", "sweep")
    }
    assert list(manifest["missing"]) == ["mnist"] and "not found" in manifest["missing"]["mnist"]
    assert not (out / "mnist").exists()
    for name in FASHION_STEPS:
        assert (out / name / "finished.json").is_file()
        assert is_done(out / name, next(s for s in plan(("fashion-mnist",), quick=True) if s.name == name))
    assert json.loads((out / "reproduce.json").read_text()) == manifest
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert json.loads((out / "gradients" / "checks.json").read_text())[0]["passed"] is True
    assert any(re.match(r"\[\d+/11\] mnist/\w+: skipped: data set mnist not found", line) for line in lines)
    assert any(line.startswith("[11/11] fashion-mnist/sweep: done in") and "left)" in line for line in lines)
    assert (
        lines[-1].startswith("reproduction finished in") and "6 steps run, 0 already done, 5 without data" in lines[-1]
    )


def record_calls(monkeypatch) -> list[tuple[str, bool]]:
    """Replace the three kinds of work by recorders: (step folder, resume) per call; nothing trains."""
    calls: list[tuple[str, bool]] = []
    name = lambda folder: "/".join(Path(folder).parts[-2:]) if Path(folder).name != "gradients" else "gradients"  # noqa: E731
    monkeypatch.setattr(
        reproduce_module, "train_run", lambda config, out, resume, **kw: calls.append((name(out), resume))
    )
    monkeypatch.setattr(
        reproduce_module, "run_sweep", lambda config, out, resume, **kw: calls.append((name(out), resume))
    )
    monkeypatch.setattr(reproduce_module, "run_gradients", lambda out, quiet, log: calls.append((name(out), False)))
    return calls


def test_a_second_run_trains_nothing(study, study_copy, monkeypatch):
    calls, lines = record_calls(monkeypatch), []
    manifest = reproduce(
        study_copy, datasets=("fashion-mnist",), quick=True, data_dir=study["data_dir"], log=lines.append
    )
    assert calls == []
    assert [r["status"] for r in manifest["steps"]] == ["skipped"] * 6
    assert sum("already done, skipped" in line for line in lines) == 6
    assert all(r["seconds"] is not None for r in manifest["steps"])  # the first run's timings are kept


def test_an_unfinished_or_changed_step_runs_again(study, study_copy, monkeypatch):
    (study_copy / "fashion-mnist" / "deep" / "finished.json").unlink()  # interrupted: resumes from its checkpoint
    (study_copy / "fashion-mnist" / "sparse" / "finished.json").unlink()
    (study_copy / "fashion-mnist" / "sparse" / "checkpoint.safetensors").unlink()  # interrupted before its first epoch
    config = json.loads((study_copy / "fashion-mnist" / "sweep" / "config.json").read_text())
    config["config"]["epochs"] = 2  # another configuration: run again from scratch
    (study_copy / "fashion-mnist" / "sweep" / "config.json").write_text(json.dumps(config))
    calls, lines = record_calls(monkeypatch), []
    reproduce(study_copy, datasets=("fashion-mnist",), quick=True, data_dir=study["data_dir"], log=lines.append)
    assert sorted(calls) == [
        ("fashion-mnist/deep", True),
        ("fashion-mnist/sparse", False),
        ("fashion-mnist/sweep", False),
    ]
    assert any("fashion-mnist/sweep: rerunning (its folder holds another configuration)" in line for line in lines)


def test_an_interrupted_step_continues_from_its_checkpoint(study, study_copy):
    (study_copy / "fashion-mnist" / "shallow" / "finished.json").unlink()
    lines = []
    manifest = reproduce(
        study_copy, datasets=("fashion-mnist",), quick=True, data_dir=study["data_dir"], quiet=True, log=lines.append
    )
    assert [r["status"] for r in manifest["steps"]] == ["skipped", "run"] + ["skipped"] * 4
    assert (study_copy / "fashion-mnist" / "shallow" / "finished.json").is_file()
    final = lambda out: json.loads((out / "fashion-mnist" / "shallow" / "metrics.json").read_text())["final"]  # noqa: E731
    assert final(study_copy) == final(study["out"])


def test_force_runs_every_step_again(study, study_copy, monkeypatch):
    calls = record_calls(monkeypatch)
    reproduce(
        study_copy, datasets=("fashion-mnist",), quick=True, force=True, data_dir=study["data_dir"], log=lambda m: None
    )
    assert calls[0] == ("gradients", False) and sorted(calls) == sorted((name, False) for name in FASHION_STEPS)
    calls.clear()
    reproduce(
        study_copy,
        datasets=("fashion-mnist",),
        quick=True,
        force=True,
        data_dir=study["data_dir"],
        log=lambda m: None,
        workers=1,
    )
    assert calls == [(name, False) for name in FASHION_STEPS]  # one worker: the plan's order


def fake_steps(monkeypatch, work) -> list:
    """Replace training by `work(name)`, run in the step's thread; returns the (event, name, thread) log."""
    import threading

    events = []
    name = lambda folder: "/".join(Path(folder).parts[-2:])  # noqa: E731

    def fake(config, out, resume, **kw):
        events.append(("start", name(out), threading.current_thread().name))
        work(name(out))
        events.append(("end", name(out), threading.current_thread().name))

    monkeypatch.setattr(reproduce_module, "train_run", fake)
    monkeypatch.setattr(reproduce_module, "run_sweep", fake)
    monkeypatch.setattr(
        reproduce_module, "run_gradients", lambda out, quiet, log: events.append(("start", "gradients", "main"))
    )
    return events


def test_two_steps_train_at_a_time_costliest_first(tmp_path, monkeypatch):
    import time

    events = fake_steps(monkeypatch, lambda name: time.sleep(0.05))
    manifest = reproduce(tmp_path / "out", datasets=("fashion-mnist",), quick=False, log=lambda m: None, workers=2)
    starts = [name for kind, name, _ in events if kind == "start"]
    costs = {s.name: s.cost() for s in plan(("fashion-mnist",), quick=False)}
    assert starts[0] == "gradients" and set(starts[1:3]) == set(sorted(costs, key=costs.get, reverse=True)[:2])
    running, most = 0, 0
    for kind, _, _ in events[1:]:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 2 and len({thread for _, _, thread in events[1:]}) == 2
    assert [r["status"] for r in manifest["steps"]] == ["run"] * 6 and manifest["workers"] == 2


def test_a_failing_step_stops_the_others_after_their_step(tmp_path, monkeypatch):
    """The sweep fails; the step running beside it is asked to stop (and saves its checkpoint), the rest never start."""
    import time

    from aelab.errors import TrainingError
    from aelab.train.interrupt import graceful_stop
    from aelab.train.trainer import TrainingInterrupted

    class Stoppable:  # what graceful_stop needs of a Trainer
        stop_requested = False

        def request_stop(self):
            self.stop_requested = True

    def work(name):
        if name.endswith("sweep"):
            time.sleep(0.2)
            raise TrainingError("epoch 1, step 3: training loss became nan")
        trainer = Stoppable()
        with graceful_stop(trainer):
            for _ in range(200):
                if trainer.stop_requested:
                    raise TrainingInterrupted(f"{name} interrupted")
                time.sleep(0.01)

    events = fake_steps(monkeypatch, work)
    with pytest.raises(TrainingError, match="became nan"):
        reproduce(tmp_path / "out", datasets=("fashion-mnist",), quick=False, log=lambda m: None, workers=2)
    started = [name for kind, name, _ in events if kind == "start"]
    assert started[0] == "gradients" and set(started[1:]) == {
        "fashion-mnist/sweep",
        "fashion-mnist/deep",
    }  # nothing after the failure
    manifest = json.loads((tmp_path / "out" / "reproduce.json").read_text())
    assert [r["status"] for r in manifest["steps"]] == ["run", None, None, None, None, None]


def test_workers_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="--workers 0: expected at least 1"):
        reproduce(tmp_path / "out", datasets=("fashion-mnist",), log=lambda m: None, workers=0)


def test_a_quick_run_does_not_count_as_the_full_study(study):
    full = {s.name: s for s in plan(("fashion-mnist",), quick=False)}
    assert not any(is_done(study["out"] / name, full[name]) for name in FASHION_STEPS[1:])
    assert is_done(study["out"] / "gradients", PlannedRun("gradients", "gradients", None, None))


def test_the_cli_reproduces(study, study_copy, capsys):
    from aelab import cli

    if "reproduce" not in cli.COMMANDS:
        pytest.skip("`aelab reproduce` is not wired into aelab.cli yet")
    code = cli.main(
        [
            "reproduce",
            "--quick",
            "--datasets",
            "fashion-mnist",
            "--out",
            str(study_copy),
            "--data-dir",
            str(study["data_dir"]),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and "already done, skipped" in captured.err and "report.html" in captured.out


def test_ctrl_c_stops_a_parallel_reproduction_and_the_next_run_finishes_it(study, tmp_path):
    """A real SIGINT to `aelab reproduce` while two steps train: exit 130, checkpoints kept; the same command then
    completes."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "study"
    command = [
        sys.executable,
        "-m",
        "aelab",
        "reproduce",
        "--quick",
        "--datasets",
        "fashion-mnist",
        "--out",
        str(out),
        "--data-dir",
        str(study["data_dir"]),
        "--workers",
        "2",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "fashion-mnist/" in line and ": running" in line:
            time.sleep(0.3)
            process.send_signal(signal.SIGINT)
            break
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    manifest = json.loads((out / "reproduce.json").read_text())
    assert any(r["status"] != "run" for r in manifest["steps"] if r["name"] != "gradients")
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    manifest = json.loads((out / "reproduce.json").read_text())
    assert all(r["status"] in ("run", "skipped") for r in manifest["steps"])
    assert all((out / name / "finished.json").is_file() for name in FASHION_STEPS)
