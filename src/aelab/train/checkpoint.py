"""Model weights on disk: safetensors (never pickle), the config embedded as JSON metadata.

safetensors loads without executing code, so a run folder from someone else is safe to open; the
embedded config lets a loader refuse weights that belong to a different model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from aelab.errors import CheckpointError
from aelab.fileio import atomic_save


def save_weights(path: str | os.PathLike, model: torch.nn.Module, config: dict) -> Path:
    """Write the model's parameters atomically, with `config` in the file's metadata."""
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    metadata = {"config": json.dumps(config, sort_keys=True), "format": "aelab-weights-1"}
    return atomic_save(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and embedded config of a weights file; a corrupt or foreign file is refused."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no weights file: expected model.safetensors from an aelab run")
    try:
        tensors = load_file(path)
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
        config = json.loads(metadata["config"])
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: corrupt or not an aelab weights file: {exc}") from None
    return tensors, config


def load_weights(path: str | os.PathLike, model: torch.nn.Module, expected_config: dict | None = None) -> torch.nn.Module:
    """Load weights into `model`, refusing a file whose config or tensor shapes do not match."""
    tensors, config = read_weights(path)
    if expected_config is not None:
        keys = ("model", "code_size", "hidden_sizes", "dataset")
        diffs = [f"{k}={config.get(k)!r} (expected {expected_config.get(k)!r})" for k in keys if config.get(k) != expected_config.get(k)]
        if diffs:
            raise CheckpointError(f"{path}: weights belong to another model: {', '.join(diffs)}")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "shape mismatch"
        raise CheckpointError(f"{path}: weights do not fit the model: {first}") from None
    return model
