"""The 7-size bottleneck sweep: all models trained together against one after another, per epoch.

  batched      — aelab's sweep: every code size in one BatchedDenseAutoencoder, one fused step for all
  batched autograd — the same batched model through autograd (the reference path)
  sequential   — the same seven shallow models trained one after another with aelab's fused engine
  sequential autograd — one after another with the autograd engine (the batched model's own math)
  keras        — the Keras study's loop over code sizes (when .venv-peers exists)
One epoch each; a 5-epoch sweep costs five times as much (plus evaluation).
"""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_speed import PEERS_PYTHON, aelab_epoch, keras_epoch  # noqa: E402
from common import alternate, summary  # noqa: E402

from aelab.models.batched import BatchedDenseAutoencoder  # noqa: E402
from aelab.objectives import PerModelBCE  # noqa: E402
from aelab.train.trainer import Trainer  # noqa: E402

SIZES = (5, 20, 35, 50, 65, 80, 95)


def batched_epoch(x: torch.Tensor, engine: str = "fused") -> None:
    """As `aelab sweep` trains (experiments/sweep.py: two groups of models on two threads)."""
    model = BatchedDenseAutoencoder(784, SIZES, (), [torch.Generator().manual_seed(0) for _ in SIZES])
    Trainer(model, PerModelBCE(), batch_size=32, epochs=1, learning_rate=1e-3, generator=torch.Generator().manual_seed(0),
            quiet=True, engine=engine, threads=min(torch.get_num_threads(), 2)).fit(x)


def run(x: torch.Tensor, data_dir: str, repeats: int = 2) -> dict:
    contenders = {"batched": lambda: batched_epoch(x),
                  "batched autograd": lambda: batched_epoch(x, "autograd"),
                  "sequential fused": lambda: [aelab_epoch(x, "shallow", "fused", k) for k in SIZES],
                  "sequential autograd": lambda: [aelab_epoch(x, "shallow", "autograd", k) for k in SIZES]}
    keras: list[float] = []
    if PEERS_PYTHON.exists():
        contenders["keras"] = lambda: keras.append(sum(keras_epoch("shallow", data_dir, k) for k in SIZES))
    times = alternate(contenders, repeats)
    if keras:
        times["keras"] = keras
    table = {k: summary(v) for k, v in times.items()}
    batched = table["batched"]["median"]
    print(f"\nsweep of {len(SIZES)} shallow autoencoders (code sizes {','.join(map(str, SIZES))}), one epoch each (medians):")
    for name, s in table.items():
        print(f"  {name:<20} {s['median']:7.2f} s [{s['min']:.2f}–{s['max']:.2f}]  {s['median'] / batched:5.2f}× the batched time")
    return table


if __name__ == "__main__":
    from aelab.data import load_dataset

    data_dir = os.environ["AELAB_DATA_DIR"]
    run(torch.from_numpy(load_dataset("fashion-mnist", data_dir=data_dir, progress=False).train_images), data_dir)
