"""The 7-size bottleneck sweep: all models trained together against one after another, per epoch.

  batched      — aelab's sweep: every code size in one BatchedDenseAutoencoder, one fused step for all
  batched autograd — the same batched model through autograd (the reference path)
  sequential   — the same seven shallow models trained one after another with aelab's fused engine
  sequential autograd — one after another with the autograd engine (the batched model's own math)
  keras        — the Keras study's loop over code sizes (when .venv-peers exists)
  jax joint …  — JAX training the same seven models at once (benchmarks/peers/jax_study.py): every
                 first layer side by side in one matrix (one encoder GEMM, as aelab), each decoder its
                 own; a jitted step in a Python loop or the epoch as one `lax.scan`, default threads
                 or pinned to one core
  jax padded … — the same, the models stacked and padded to the largest code and `vmap`ped
One epoch each; a 5-epoch sweep costs five times as much (plus evaluation).
"""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_speed import aelab_epoch  # noqa: E402
from common import alternate, fastest, print_rows, summaries  # noqa: E402
from peer_runs import JAX_TRAINING, have_jax, have_keras, jax_contenders, keras_epoch  # noqa: E402

from aelab.models.batched import BatchedDenseAutoencoder  # noqa: E402
from aelab.objectives import PerModelBCE  # noqa: E402
from aelab.train.trainer import Trainer  # noqa: E402

SIZES = (5, 20, 35, 50, 65, 80, 95)  # SweepConfig's default, 5:100:15; the JAX peer's SWEEP_SIZES


def batched_epoch(x: torch.Tensor, engine: str = "compiled") -> None:
    """As `aelab sweep` trains (tasks/sweep.py: two groups of models on two threads)."""
    model = BatchedDenseAutoencoder(784, SIZES, (), [torch.Generator().manual_seed(0) for _ in SIZES])
    Trainer(
        model,
        PerModelBCE(),
        batch_size=32,
        epochs=1,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine=engine,
        threads=min(torch.get_num_threads(), 2),
    ).fit(x)


def run(x: torch.Tensor, data_dir: str, repeats: int = 2) -> dict:
    contenders = {
        "batched": lambda: batched_epoch(x),
        "batched autograd": lambda: batched_epoch(x, "autograd"),
        "sequential compiled": lambda: [aelab_epoch(x, "shallow", "compiled", k) for k in SIZES],
        "sequential autograd": lambda: [aelab_epoch(x, "shallow", "autograd", k) for k in SIZES],
    }
    if have_keras():
        contenders["keras"] = lambda: sum(keras_epoch("shallow", data_dir, k) for k in SIZES)  # its own in-fit seconds
    jax_names = []
    if have_jax():
        for form in ("joint", "padded"):
            variants = {name.replace("jax", f"jax {form}"): v for name, v in JAX_TRAINING.items()}
            contenders.update(jax_contenders("sweep", data_dir, variants, "--sweep", form))
            jax_names += variants
    cpu_seconds: dict[str, list[float]] = {}
    table = summaries(alternate(contenders, repeats, cpu_seconds), cpu_seconds)
    print(
        f"\nsweep of {len(SIZES)} shallow autoencoders (code sizes {','.join(map(str, SIZES))}), one epoch each "
        "(medians; ratio = time / batched):"
    )
    print_rows(table, "batched")
    jax = fastest(table, jax_names)
    if jax is not None:
        print(
            f"  the fastest JAX ({jax}) takes {table[jax]['median'] / table['batched']['median']:.2f}× "
            "the batched sweep's time "
            "(issue 12's target: ≥ 1.5)"
        )
    return table


if __name__ == "__main__":
    from aelab.data import load_dataset
    from aelab.data.arrays import shared_tensor

    data_dir = os.environ["AELAB_DATA_DIR"]
    run(shared_tensor(load_dataset("fashion-mnist", data_dir=data_dir, progress=False).train_images), data_dir)
