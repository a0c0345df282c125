"""Running the peers (benchmarks/peers/, in .venv-peers) from aelab's benchmarks: one fresh process per run.

Each peer prints one JSON line, and times its epochs itself, so that its start-up (importing
TensorFlow or JAX, reading the data, compiling) is not counted against it. The JAX peer's
contenders are named here once, for the epoch, the sweep and the loss check alike.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

from common import Timing

ROOT = Path(__file__).resolve().parent.parent
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEERS = ROOT / "benchmarks" / "peers"

# contender name → the JAX peer's (--variant, --threads); "1 core" pins the process (see peers/jax_study.py)
JAX_TRAINING = {
    "jax loop": ("loop", "default"),
    "jax loop, 1 core": ("loop", "one"),
    "jax scan": ("scan", "default"),
    "jax scan, 1 core": ("scan", "one"),
}
JAX_PRODUCTS = {"xla products": ("products", "default"), "xla products, 1 core": ("products", "one")}


def run_peer(script: str, *args: str) -> dict:
    """The JSON line that `script` (under benchmarks/peers/) prints, run with .venv-peers' Python."""
    out = subprocess.run(
        [str(PEERS_PYTHON), str(PEERS / script), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def have_keras() -> bool:
    return PEERS_PYTHON.exists()


@functools.cache
def have_jax() -> bool:
    """Whether .venv-peers holds the JAX peer's packages (an environment made before they joined lacks them)."""
    return (
        PEERS_PYTHON.exists()
        and subprocess.run([str(PEERS_PYTHON), "-c", "import jax, optax"], capture_output=True).returncode == 0
    )


def keras_epoch(model_name: str, data_dir: str, code_size: int = 32) -> float:
    """Seconds of one Keras epoch, measured inside fit (TensorFlow's start-up excluded)."""
    return run_peer(
        "keras_study.py", "--model", model_name, "--epochs", "1", "--data-dir", data_dir, "--code-size", str(code_size)
    )["epoch_seconds"][0]


def jax_run(model: str, variant: str, threads: str, data_dir: str, *extra: str) -> dict:
    """One run of the JAX peer (its JSON record); `extra` adds options such as --epochs 5 --test."""
    return run_peer(
        "jax_study.py", "--model", model, "--variant", variant, "--threads", threads, "--data-dir", data_dir, *extra
    )


def jax_epoch(model: str, variant: str, threads: str, data_dir: str, *extra: str) -> Timing:
    """Wall and CPU seconds of one JAX epoch, measured inside the peer (start-up and compilation excluded)."""
    record = jax_run(model, variant, threads, data_dir, *extra)
    return Timing(record["epoch_seconds"][0], record["epoch_cpu_seconds"][0])


def jax_contenders(model: str, data_dir: str, variants: dict[str, tuple[str, str]], *extra: str) -> dict:
    """{name: a callable timing one JAX epoch} for `variants` (JAX_TRAINING, JAX_PRODUCTS)."""
    return {
        name: functools.partial(jax_epoch, model, variant, threads, data_dir, *extra)
        for name, (variant, threads) in variants.items()
    }
