"""The run folder contract: one writer at a time, no silent replacement, no half-written or left-over
files, permissions that follow the umask. Tiny synthetic data (the `tiny` data set), real processes."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import aelab.fileio
from aelab.cli import main
from aelab.config import SweepConfig, TrainConfig
from aelab.errors import OutputError
from aelab.fileio import atomic_write_json, current_umask
from aelab.models.dense import DenseAutoencoder
from aelab.runs.lock import LOCK_NAME, RunLock
from aelab.tasks.sweep import run_sweep
from aelab.tasks.train import train_run
from aelab.train.checkpoint import save_weights

TINY = {"dataset": "tiny", "epochs": 1, "batch_size": 16, "code_size": 4}
SRC = str(Path(__file__).resolve().parents[1] / "src")


def tiny_train(root: Path, out: Path, messages: list[str] | None = None, **options) -> dict:
    log = messages.append if messages is not None else (lambda message: None)
    return train_run(
        TrainConfig(**{**TINY, **options.pop("config", {})}), out, data_dir=root, quiet=True, log=log, **options
    )


def tiny_cli(root: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "train",
            "--dataset",
            "tiny",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--code-size",
            "4",
            "--data-dir",
            str(root),
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


def python_process(code: str) -> subprocess.Popen:
    """A separate Python process running `code` with aelab importable; its stdout is a pipe."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True, env=env)


def holding_lock(folder: Path) -> subprocess.Popen:
    """Another process that takes `folder`'s run lock, says so, and keeps it until killed."""
    process = python_process(f"""
        import time
        from aelab.runs.lock import RunLock
        with RunLock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(120)
    """)
    assert process.stdout.readline().strip() == "locked"
    return process


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# 1. one writer per folder --------------------------------------------------------------------------------------


def test_a_second_process_writing_the_same_out_is_refused(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    out.mkdir()
    holder = holding_lock(out)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "aelab", "train", "--quick", "--out", str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        assert second.returncode == 6
        assert second.stderr.count("\n") == 1
        assert (
            f"{out}: in use by another aelab run (PID {holder.pid} on {socket.gethostname()}, since " in second.stderr
        )
        with pytest.raises(OutputError, match="in use by another aelab run"):  # and the library, past the early look
            with RunLock(out):
                pass
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written by the refused runs
    finally:
        kill(holder)


def test_two_real_training_processes_one_refused_then_the_stale_lock_taken_over(real_data_dir, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "aelab", "train", "--quick", "--data-dir", str(real_data_dir), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": SRC}
    first = subprocess.Popen(
        [*command, "--epochs", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / LOCK_NAME).is_file() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)  # frozen mid-run, holding the lock
        assert (out / LOCK_NAME).is_file()
        second = subprocess.run(command, capture_output=True, text=True, env=env)
        assert second.returncode == 6 and f"in use by another aelab run (PID {first.pid} on " in second.stderr
        assert second.stderr.count("\n") == 1
    finally:
        kill(first)
    assert (out / LOCK_NAME).is_file()  # SIGKILL left it behind: stale now
    third = subprocess.run([*command, "--force"], capture_output=True, text=True, env=env)
    assert third.returncode == 0, third.stderr
    assert f"taking over the lock of an aelab run that no longer runs (PID {first.pid} on " in third.stderr
    assert (out / "finished.json").is_file() and not (out / LOCK_NAME).exists()


def test_a_stale_lock_from_a_killed_process_is_taken_over(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    out.mkdir()
    holder = holding_lock(out)
    kill(holder)
    recorded = json.loads((out / LOCK_NAME).read_text())
    assert recorded["pid"] == holder.pid and recorded["host"] == socket.gethostname()
    messages: list[str] = []
    tiny_train(root, out, messages)
    assert any(f"taking over the lock of an aelab run that no longer runs (PID {holder.pid} on " in m for m in messages)
    assert (out / "finished.json").is_file() and not (out / LOCK_NAME).exists()


def write_lock_file(folder: Path, pid: int, host: str) -> None:
    (folder / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host, "started": "2026-01-01T00:00:00+00:00"}))


def test_a_lock_recorded_on_another_machine_is_refused_with_the_file_to_delete(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    write_lock_file(out, 1, "elsewhere.example")  # its PID means nothing here: never judged stale from this machine
    with pytest.raises(OutputError) as info:
        with RunLock(out):
            pass
    assert str(info.value) == (
        f"{out}: locked by an aelab run on another machine (PID 1 on elsewhere.example, since "
        f"2026-01-01T00:00:00+00:00): if none runs there now, delete {out / LOCK_NAME}"
    )
    (out / LOCK_NAME).unlink()
    with RunLock(out):
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_without_flock_the_recorded_pid_decides(tmp_path, monkeypatch):
    monkeypatch.setattr("aelab.runs.lock.try_flock", lambda fd: None)  # a file system without flock
    out = tmp_path / "run"
    out.mkdir()
    alive = python_process("import time; print('up', flush=True); time.sleep(120)")
    assert alive.stdout.readline().strip() == "up"
    try:
        write_lock_file(out, alive.pid, socket.gethostname())
        with pytest.raises(OutputError, match=f"in use by another aelab run \\(PID {alive.pid} on "):
            with RunLock(out):
                pass
    finally:
        kill(alive)
    messages: list[str] = []
    with RunLock(out, messages.append):  # the same PID, now gone: stale
        pass
    assert f"no longer runs (PID {alive.pid} on" in messages[0] and not (out / LOCK_NAME).exists()


def test_threads_of_one_process_exclude_each_other_but_nested_folders_do_not(tmp_path):
    inner = tmp_path / "study" / "mnist" / "shallow"
    inner.mkdir(parents=True)
    with RunLock(tmp_path / "study"):
        with RunLock(inner):  # reproduce holds its folder; a worker thread holds a step's folder inside it
            with pytest.raises(OutputError, match="in use by another aelab run"):
                with RunLock(inner):  # a second writer of that step, even in this process, is refused
                    pass
        assert not (inner / LOCK_NAME).exists()
    assert not (tmp_path / "study" / LOCK_NAME).exists()


def test_the_lock_is_released_when_the_run_fails(tiny_dataset, tmp_path, monkeypatch):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"

    def fail(*args, **kwargs):
        raise OutputError("injected failure")

    monkeypatch.setattr("aelab.tasks.train.fit_with_checkpoints", fail)
    with pytest.raises(OutputError, match="injected failure"):
        tiny_train(root, out)
    assert out.is_dir() and not (out / LOCK_NAME).exists()


def test_reproduce_refuses_a_folder_another_process_holds(tmp_path, capsys):
    out = tmp_path / "study"
    out.mkdir()
    holder = holding_lock(out)
    try:
        assert main(["reproduce", "--quick", "--datasets", "mnist", "--out", str(out)]) == 6
        assert "in use by another aelab run" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    finally:
        kill(holder)


# 2. no silent replacement ----------------------------------------------------------------------------------------


def test_a_finished_run_is_not_overwritten_without_force(tiny_dataset, tmp_path, capsys):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    assert tiny_cli(root, out) == 0
    before = file_bytes(out)
    capsys.readouterr()
    assert tiny_cli(root, out, "--seed", "1") == 6
    err = capsys.readouterr().err
    assert err == f"aelab: error: {out}: holds a finished run: pass --force to replace it, or choose another --out\n"
    assert file_bytes(out) == before
    assert tiny_cli(root, out, "--seed", "1", "--force") == 0
    assert json.loads((out / "config.json").read_text())["config"]["seed"] == 1


def test_an_interrupted_run_is_not_restarted_without_resume_or_force(tiny_dataset, tmp_path, capsys):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    assert tiny_cli(root, out, "--epochs", "2") == 0
    (out / "finished.json").unlink()  # as if stopped after its last checkpoint
    before = file_bytes(out)
    capsys.readouterr()
    assert tiny_cli(root, out, "--epochs", "2") == 6
    err = capsys.readouterr().err
    assert err == (
        f"aelab: error: {out}: holds an interrupted run (checkpoint.safetensors): pass --resume to continue it "
        "or --force to start again\n"
    )
    assert file_bytes(out) == before
    assert tiny_cli(root, out, "--epochs", "2", "--resume", "--force") == 2
    assert "--resume and --force: expected at most one" in capsys.readouterr().err
    assert tiny_cli(root, out, "--epochs", "2", "--resume") == 0 and (out / "finished.json").is_file()


def test_a_finished_sweep_is_not_overwritten_without_force(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    out = tmp_path / "sweep"
    config = SweepConfig(dataset="tiny", code_sizes=(2, 3), epochs=1, batch_size=16)
    run_sweep(config, out, data_dir=root, quiet=True, log=lambda m: None)
    before = file_bytes(out)
    with pytest.raises(OutputError, match="holds a finished run: pass --force"):
        run_sweep(config, out, data_dir=root, quiet=True, log=lambda m: None)
    assert file_bytes(out) == before
    run_sweep(config, out, data_dir=root, quiet=True, log=lambda m: None, force=True)
    assert (out / "finished.json").is_file()


# 3. a full disk during a .safetensors write -----------------------------------------------------------------------


def fail_safetensors_writes(monkeypatch):
    """Simulate a disk that fills up while a .safetensors file is written (half of it lands first)."""
    real = Path.write_bytes

    def write_bytes(self, data):
        if not self.name.endswith(".safetensors.tmp"):
            return real(self, data)
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def test_full_disk_while_writing_weights_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_weights(tmp_path / "model.safetensors", DenseAutoencoder(12, 3), {"model": "shallow"})
    before = path.read_bytes()
    fail_safetensors_writes(monkeypatch)
    with pytest.raises(OutputError) as info:
        save_weights(path, DenseAutoencoder(12, 5), {"model": "shallow"})
    assert str(info.value) == f"{path}: write failed: No space left on device"
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_full_disk_during_a_checkpoint_write_exits_6_with_one_line(tiny_dataset, tmp_path, monkeypatch, capsys):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    fail_safetensors_writes(monkeypatch)
    assert tiny_cli(root, out) == 6
    assert (
        capsys.readouterr().err
        == f"aelab: error: {out / 'checkpoint.safetensors'}: write failed: No space left on device\n"
    )
    assert not (out / "finished.json").exists() and not list(out.glob(".*"))


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 96 KiB file system (tmpfs), when this process may mount one (root in a container that allows it)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({result.stderr.strip() or 'not permitted'}); the "
            "injected ENOSPC tests cover this"
        )
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk_during_a_run_exits_6_with_nothing_half_written(tiny_dataset, small_tmpfs, capsys):
    root, _, _ = tiny_dataset
    out = small_tmpfs / "run"
    # code size 32: the checkpoint (weights and both Adam moments, ~600 KB) cannot fit in 96 KiB
    assert tiny_cli(root, out, "--code-size", "32") == 6
    err = capsys.readouterr().err
    assert err.endswith(": write failed: No space left on device\n") and err.count("\n") == 1
    assert not list(out.glob(".*")) and not (out / "finished.json").exists()
    assert not (out / "checkpoint.safetensors").exists()


# 4. temporary files left by a kill mid-write ------------------------------------------------------------------------


def test_temporaries_left_by_a_kill_mid_write_are_removed_by_the_next_run(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    out.mkdir()
    writer = python_process(f"""
        import time
        from pathlib import Path
        from aelab.fileio import atomic_save

        def slow(tmp):
            Path(tmp).write_bytes(b"x" * 1_000_000)
            print("writing", flush=True)
            time.sleep(120)

        atomic_save({str(out / "checkpoint.safetensors")!r}, slow)
    """)
    assert writer.stdout.readline().strip() == "writing"
    kill(writer)
    left = list(out.glob(".checkpoint.*.safetensors.tmp"))
    assert len(left) == 1 and left[0].stat().st_size == 1_000_000
    messages: list[str] = []
    tiny_train(root, out, messages)
    assert not list(out.glob(".*")) and (out / "finished.json").is_file()
    assert f"{out}: removed 1 temporary file(s) left by an interrupted write" in messages


# 6. permissions follow the umask; reading the umask never changes it ------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_output_including_safetensors_follows_the_umask(tiny_dataset, tmp_path, umask):
    root, _, _ = tiny_dataset
    out = tmp_path / "run"
    previous = os.umask(umask)
    try:
        tiny_train(root, out)
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert {"model.safetensors", "checkpoint.safetensors", "config.json"} <= set(modes)
    assert set(modes.values()) == {0o666 & ~umask}, modes


@pytest.mark.parametrize("source", ["proc", "probe"])
def test_current_umask_reads_it_without_setting_it(tmp_path, monkeypatch, source):
    previous = os.umask(0o027)
    try:

        def no_umask(mask):
            raise AssertionError("os.umask called: it sets the umask, a race with threads creating files")

        monkeypatch.setattr(os, "umask", no_umask)
        if source == "probe":  # no /proc (macOS and others): the probe file's mode tells
            monkeypatch.setattr(aelab.fileio, "PROC_STATUS", "/nonexistent/status")
        assert current_umask() == 0o027
        path = atomic_write_json(tmp_path / "f.json", {})
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        monkeypatch.undo()
        os.umask(previous)
