"""The dense VAE's compiled epoch against the dense autoencoder's of the same shape (issue 14: within 1.3×).

    .venv/bin/python benchmarks/bench_dense_vae.py [--train-size 60000] [--repeats 3] [--batch-sizes 32,128]

Whole epochs of MNIST's 60,000 training images, each a fresh model trained by `aelab train`'s path
(experiments.train_one.model_and_trainer), alternated so that machine noise hits all alike; per shape
(784→128→32, the study's deep model, and 784→128→2, a code to draw) and batch size:
  dense AE, compiled             — the reference: the dense autoencoder's compiled step, one thread
  dense VAE, compiled            — the dense VAE's compiled step (train/compiled/vae.py), one thread
  dense AE / VAE, compiled, 2 threads — both with each batch split over two cores (the default with two cores)
  dense VAE, autograd            — the same model on the autograd engine, for the compiled step's gain
The issue's target (within 1.3×) reads: dense VAE over dense AE, at the same thread count.
The ratio column is each median over the reference's. Each contender checks that the engine it names ran
(no fallback is timed). Run it on an idle machine: timings on a shared one say nothing.
"""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import timed_table, timing_arguments, timing_mnist  # noqa: E402

from aelab.config import TrainConfig  # noqa: E402
from aelab.tasks.recipe import model_and_trainer, resolve, seeded_generators  # noqa: E402
from aelab.train.compiled.dense import CompiledDenseStep  # noqa: E402
from aelab.train.compiled.vae import CompiledVAEStep  # noqa: E402
from aelab.train.step import AutogradStep  # noqa: E402

SHAPES = {
    "784→128→32": {"code_size": 32, "hidden_sizes": (128,)},
    "784→128→2": {"code_size": 2, "hidden_sizes": (128,)},
}
EXPECTED = {
    ("vae", "compiled"): CompiledVAEStep,
    ("vae", "autograd"): AutogradStep,
    ("deep", "compiled"): CompiledDenseStep,
}


def epoch(x: torch.Tensor, model: str, engine: str, batch: int, threads: int, shape: dict) -> None:
    """One epoch of a fresh `model` ("deep": the dense autoencoder, any depth; "vae") on `x`."""
    config = resolve(TrainConfig(model=model, batch_size=batch, epochs=1, engine=engine, threads=threads, **shape))
    _, trainer, _, _ = model_and_trainer(config, x, x[:batch], seeded_generators(0), quiet=True)
    if type(trainer.engine) is not EXPECTED[model, engine]:
        raise SystemExit(f"{model} on {engine} ran {trainer.engine.describe()}: not the engine this benchmark times")
    trainer.fit(x)


def contenders(x: torch.Tensor, batch: int, shape: dict) -> dict:
    return {
        "dense AE, compiled": lambda: epoch(x, "deep", "compiled", batch, 1, shape),
        "dense VAE, compiled": lambda: epoch(x, "vae", "compiled", batch, 1, shape),
        "dense AE, compiled, 2 threads": lambda: epoch(x, "deep", "compiled", batch, 2, shape),
        "dense VAE, compiled, 2 threads": lambda: epoch(x, "vae", "compiled", batch, 2, shape),
        "dense VAE, autograd": lambda: epoch(x, "vae", "autograd", batch, 0, shape),
    }


def run(x: torch.Tensor, repeats: int = 3, batch_sizes: tuple[int, ...] = (32, 128)) -> dict:
    results = {}
    for name, shape in SHAPES.items():
        for batch in batch_sizes:
            title = f"dense VAE against the dense AE, {name}, batch {batch}"
            results[title] = timed_table(
                f"{title}: one epoch of {len(x)} MNIST images, {repeats} alternated runs (median [min–max], ratio)",
                contenders(x, batch, shape),
                "dense AE, compiled",
                repeats,
                width=30,
            )
    return results


def main() -> int:
    parser = timing_arguments(__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="32,128", help="comma-separated batch sizes")
    args = parser.parse_args()
    x, _ = timing_mnist(args.train_size)
    run(x, args.repeats, tuple(int(b) for b in args.batch_sizes.split(",")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
