"""Faults and bad input that are not about resuming: full disk, unwritable output, fuzzed files."""

from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aelab.cli import main
from aelab.data.idx import encode_idx, read_idx
from aelab.errors import CheckpointError, DataError, OutputError
from aelab.fileio import atomic_write_json
from aelab.models.dense import DenseAutoencoder
from aelab.objectives import ReconstructionObjective
from aelab.train.checkpoint import load_checkpoint, read_weights, save_checkpoint, save_weights
from aelab.train.state import trainer_state
from aelab.train.trainer import Trainer


def small_checkpoint(path: Path) -> bytes:
    model = DenseAutoencoder(12, 3, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(
        model,
        ReconstructionObjective(),
        batch_size=4,
        epochs=1,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
    )
    trainer.fit(torch.rand(8, 12))
    tensors, info = trainer_state(trainer)
    save_checkpoint(path, tensors, {**info, "config": {"model": "shallow"}})
    return path.read_bytes()


def test_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"epoch": 1})

    def no_space(self, data):
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(OutputError, match="metrics.json: write failed: No space left on device") as info:
        atomic_write_json(target, {"epoch": 2, "big": "x" * 1000})
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_full_disk_during_a_run_exits_6(real_data_dir, tmp_path, monkeypatch, capsys):
    def no_space(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", no_space)
    assert main(["train", "--quick", "--data-dir", str(real_data_dir), "--out", str(tmp_path / "run"), "--quiet"]) == 6
    assert "No space left on device" in capsys.readouterr().err
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_unwritable_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root ignores permissions, so simulate
    assert main(["train", "--quick", "--out", str(tmp_path / "run")]) == 6
    assert "not writable" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--noise", "gaussian", "--noise-factor", "-0.1"], "--noise-factor -0.1: expected a number in [0, 10]"),
        (["--noise", "masking", "--noise-factor", "1.5"], "--noise-factor 1.5: expected a number in [0, 1]"),
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (["--l1", "-1"], "--l1 -1.0: expected a number in [0, 1000)"),
    ],
)
def test_more_bad_options(real_data_dir, tmp_path, capsys, args, message):
    code = None
    try:
        code = main(["train", *args, "--data-dir", str(real_data_dir), "--out", str(tmp_path / "run")])
    except SystemExit as exc:  # argparse's own type errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> bytes:
    """One valid checkpoint's bytes, made once so every fuzzed example starts from the same file."""
    return small_checkpoint(tmp_path_factory.mktemp("ckpt") / "c.safetensors")


def test_valid_checkpoint_loads(tmp_path, good_checkpoint):
    path = tmp_path / "c.safetensors"
    path.write_bytes(good_checkpoint)
    tensors, info = load_checkpoint(path)
    assert "model.encoder.0.weight" in tensors and info["epoch"] == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_checkpoints_are_refused_cleanly(tmp_path, good_checkpoint, data):
    path = tmp_path / "c.safetensors"
    good = good_checkpoint
    kind = data.draw(st.sampled_from(["truncate", "flip", "random"]))
    if kind == "truncate":
        blob = good[: data.draw(st.integers(0, len(good) - 1))]
    elif kind == "flip":
        i = data.draw(st.integers(0, len(good) - 1))
        blob = good[:i] + bytes([good[i] ^ (1 << data.draw(st.integers(0, 7)))]) + good[i + 1 :]
    else:
        blob = data.draw(st.binary(max_size=256))
    path.write_bytes(blob)
    with pytest.raises(CheckpointError):  # the digest covers the tensors and the info JSON
        load_checkpoint(path)


def test_huge_header_claim_in_checkpoint_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    path.write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_weights_file_bit_flip_detected(tmp_path):
    model = DenseAutoencoder(12, 3)
    path = save_weights(tmp_path / "model.safetensors", model, {"model": "shallow"})
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x10  # inside the last tensor's bytes
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="do not match the SHA-256"):
        read_weights(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_idx_files_raise_data_error(tmp_path, data):
    good = encode_idx(np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4))
    kind = data.draw(st.sampled_from(["truncate", "flip", "gzip-truncate"]))
    if kind == "truncate":
        blob = good[: data.draw(st.integers(0, len(good) - 1))]
    elif kind == "flip":
        i = data.draw(st.integers(0, 15))  # header bytes: flips there must be caught or parse consistently
        blob = good[:i] + bytes([good[i] ^ (1 << data.draw(st.integers(0, 7)))]) + good[i + 1 :]
    else:
        packed = gzip.compress(good)
        blob = packed[: data.draw(st.integers(0, len(packed) - 1))]
    path = tmp_path / "f"
    path.write_bytes(blob)
    try:
        array = read_idx(path)
    except DataError:
        return
    assert kind == "flip" and array.size * array.itemsize + 4 + 4 * array.ndim == len(blob)  # consistent reading only


def test_load_weights_round_trip_and_refusals(tmp_path):
    from aelab.train.checkpoint import load_weights

    source = DenseAutoencoder(12, 3, generator=torch.Generator().manual_seed(0))
    path = save_weights(tmp_path / "model.safetensors", source, {"model": "shallow", "code_size": 3})
    target = load_weights(path, DenseAutoencoder(12, 3), {"model": "shallow", "code_size": 3})
    assert all(torch.equal(a, b) for a, b in zip(source.parameters(), target.parameters()))
    with pytest.raises(CheckpointError, match=r"saved for another configuration: code_size=3 \(asked for 4\)"):
        load_weights(path, DenseAutoencoder(12, 4), {"model": "shallow", "code_size": 4})
    with pytest.raises(CheckpointError, match="weights do not fit the model"):
        load_weights(path, DenseAutoencoder(12, 4))
