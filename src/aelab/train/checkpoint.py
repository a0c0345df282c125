"""Weights and checkpoints on disk: safetensors (never pickle), JSON metadata, a SHA-256 of the tensors.

safetensors loads without executing code, so a run folder from someone else is safe to open; the
embedded config lets a loader refuse weights that belong to a different model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as serialize

from aelab.config import current_json
from aelab.devices import config_identity
from aelab.errors import CheckpointError
from aelab.fileio import atomic_write_bytes

WEIGHTS_FORMAT = "aelab-weights-1"


def save_weights(path: str | os.PathLike, model: torch.nn.Module, config: dict) -> Path:
    """Write the model's parameters atomically, with `config` and a digest in the file's metadata."""
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    return _save(path, tensors, WEIGHTS_FORMAT, {"config": config})


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and embedded config of a weights file; a corrupt or foreign file is refused."""
    tensors, info = _load(path, WEIGHTS_FORMAT, "weights file: expected model.safetensors from an aelab run")
    return tensors, info["config"]


def load_weights(
    path: str | os.PathLike, model: torch.nn.Module, expected_config: dict | None = None
) -> torch.nn.Module:
    """Load weights into `model`, refusing a file whose config or tensor shapes do not match."""
    tensors, config = read_weights(path)
    if expected_config is not None:
        check_same_config(path, config, expected_config)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "shape mismatch"
        raise CheckpointError(f"{path}: weights do not fit the model: {first}") from None
    return model


DATA_DEFAULTS = ("scale", "loss")  # settings that None leaves to your own data: a run saves what they resolved to


def config_differences(saved: dict, expected: dict) -> list[str]:
    """Every setting in which config.json's "config" `saved` differs from `expected`, as `name=saved (asked for …)`.

    Compared as today's configs (a value renamed since, engine "fused", is the same) and wherever they ran
    (aelab.devices.config_identity). An expected None for `scale` or `loss` asks for the data's default, which a
    run on your own data saves resolved (`standard`, `mse`): any saved value matches it — else a study would
    retrain every finished cell on your own data, and never resume one."""
    saved, expected = config_identity(current_json(saved)), config_identity(current_json(expected))
    return [
        f"{k}={saved.get(k)!r} (asked for {expected.get(k)!r})"
        for k in sorted(set(saved) | set(expected))
        if saved.get(k) != expected.get(k) and not (k in DATA_DEFAULTS and expected.get(k) is None)
    ]


def check_same_config(path: str | os.PathLike, saved: dict, expected: dict) -> None:
    """Refuse state saved under another configuration, naming every difference (`config_differences`: the device is
    not one, state saved on one device continues on another)."""
    diffs = config_differences(saved, expected)
    if diffs:
        raise CheckpointError(f"{path}: saved for another configuration: {', '.join(diffs)}")


CHECKPOINT_FORMAT = "aelab-checkpoint-1"


def tensors_digest(tensors: dict[str, torch.Tensor], info_json: str = "") -> str:
    """SHA-256 over the info JSON and the tensors' names, dtypes, shapes and bytes: any flipped bit shows."""
    h = hashlib.sha256(info_json.encode())
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _save(path: str | os.PathLike, tensors: dict[str, torch.Tensor], kind: str, info: dict) -> Path:
    info_json = json.dumps(info, sort_keys=True)
    metadata = {"format": kind, "info": info_json, "sha256": tensors_digest(tensors, kind + info_json)}
    # serialised in memory and written by aelab's atomic writer, not safetensors' own `save_file`: that one
    # creates its file 0600 (ignoring the umask) and reports a full disk as a bare SafetensorError; this way a
    # failed write is `…: write failed: No space left on device` (OutputError) with nothing half-written
    return atomic_write_bytes(path, serialize(tensors, metadata=metadata))


def _load(path: str | os.PathLike, kind: str, missing: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, info) of a file written by `_save` with format `kind`; anything else is refused."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no {missing}")
    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        if metadata.get("format") != kind:
            raise ValueError(f"format {metadata.get('format')!r}, expected {kind}")
        info_json = metadata["info"]
        info = json.loads(info_json)
    except (SafetensorError, OSError, ValueError, KeyError, RuntimeError, TypeError, OverflowError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: corrupt or not an aelab file: {first}") from None
    if tensors_digest(tensors, kind + info_json) != metadata.get("sha256"):
        raise CheckpointError(f"{path}: corrupt: its contents do not match the SHA-256 recorded when it was written")
    return tensors, info


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], info: dict) -> Path:
    """One file, written atomically (the previous checkpoint stays until this one is complete)."""
    return _save(path, tensors, CHECKPOINT_FORMAT, info)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, info) of a checkpoint; a missing, truncated, corrupted or foreign file is refused."""
    return _load(path, CHECKPOINT_FORMAT, "checkpoint: expected one written by an interrupted or running aelab run")
