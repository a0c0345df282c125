"""Speed of one training epoch (batch 32, real Fashion-MNIST), side by side, as ratios.

Contenders, alternated so machine noise hits all alike, each a fresh model trained for one epoch:
  aelab compiled     — the default engine (train/compiled/dense.py), one thread and `--threads 2`
  aelab autograd  — the same Trainer with autograd + torch.optim.Adam (the reference path)
  dataloader      — the usual PyTorch loop: TensorDataset + DataLoader, autograd, Adam
  keras           — the original study's Keras code (benchmarks/peers/keras_study.py, in .venv-peers;
                    left out when `make bench-peers` has not been run)
  jax …           — the same model in JAX (benchmarks/peers/jax_study.py, in .venv-peers): a jitted
                    step in a Python loop, and the whole epoch as one `lax.scan`, each with XLA's
                    default threads and pinned to one core
  gemm only       — just the matrix products of the same steps (the same layouts), nothing else
  xla products …  — the same products only, compiled by XLA as one `lax.scan` (default threads, one core)
and the arithmetic floor: the epoch's multiply-adds at this machine's peak single-precision GEMM rate.
The peers time their epochs themselves (start-up and compilation excluded); CPU-s/s is the CPU
seconds all threads used per wall second (above 1: a second core helped).
"""

from __future__ import annotations

import os
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(__file__))
from common import alternate, fastest, print_rows, summaries  # noqa: E402
from peer_runs import JAX_PRODUCTS, JAX_TRAINING, ROOT, have_jax, have_keras, jax_contenders, keras_epoch  # noqa: E402

from aelab.models.dense import DenseAutoencoder  # noqa: E402
from aelab.objectives import ReconstructionObjective, bce_from_logits  # noqa: E402
from aelab.train.step import adam, torch_threads  # noqa: E402
from aelab.train.trainer import Trainer, flush_denormals  # noqa: E402

HIDDEN = {"shallow": (), "deep": (128,)}


def aelab_epoch(x: torch.Tensor, model_name: str, engine: str, code_size: int = 32, threads: int = 1) -> None:
    model = DenseAutoencoder(784, code_size, HIDDEN[model_name], generator=torch.Generator().manual_seed(0))
    Trainer(
        model,
        ReconstructionObjective(),
        batch_size=32,
        epochs=1,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine=engine,
        threads=threads,
    ).fit(x)  # as `aelab train` runs each engine


def dataloader_epoch(x: torch.Tensor, model_name: str) -> None:
    model = DenseAutoencoder(784, 32, HIDDEN[model_name], generator=torch.Generator().manual_seed(0))
    optimizer = adam(model, 1e-3)
    for (batch,) in DataLoader(TensorDataset(x), batch_size=32, shuffle=True):
        logits, _ = model(batch)
        loss = bce_from_logits(logits, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def widths(model_name: str, code_size: int = 32) -> list[int]:
    hidden = list(HIDDEN[model_name])
    return [784, *hidden, code_size, *hidden[::-1], 784]


def gemm_epoch(x: torch.Tensor, model_name: str) -> None:
    """Only the step's products (one thread, as the fused engine runs): forward x·W per layer, ∂W per
    layer, ∂h for all but the first."""
    with torch_threads(1):
        gemm_products(x, model_name)


def gemm_products(x: torch.Tensor, model_name: str) -> None:
    w = widths(model_name)
    layers = list(zip(w[:-1], w[1:]))
    weights = [
        torch.randn(n_in, n_out) if i == 0 else torch.randn(n_out, n_in) for i, (n_in, n_out) in enumerate(layers)
    ]
    acts = [torch.empty(32, n_out) for _, n_out in layers]
    grads = [torch.empty(n_in, n_out) if i == 0 else torch.empty(n_out, n_in) for i, (n_in, n_out) in enumerate(layers)]
    below_grads = [torch.empty(32, n_in) for n_in, _ in layers]
    for start in range(0, len(x) - 31, 32):
        h = x[start : start + 32]
        for i, weight in enumerate(weights):
            torch.mm(h, weight if i == 0 else weight.T, out=acts[i])
            h = acts[i]
        for i in range(len(layers) - 1, -1, -1):
            below = x[start : start + 32] if i == 0 else acts[i - 1]
            if i == 0:
                torch.mm(below.T, acts[i], out=grads[i])
            else:
                torch.mm(acts[i].T, below, out=grads[i])
                torch.mm(acts[i], weights[i], out=below_grads[i])


def peak_gflops() -> float:
    """Single-precision GEMM rate on large matrices with torch's default threads: the machine's limit."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    return 10 * 2 * 1024**3 / (time.perf_counter() - start) / 1e9


def epoch_flops(model_name: str, n: int) -> float:
    """Multiply-adds ×2 of one epoch: 3 products per layer (forward, ∂W, ∂h), 2 for the first."""
    w = widths(model_name)
    per_sample = sum((3 if i > 0 else 2) * n_in * n_out for i, (n_in, n_out) in enumerate(zip(w[:-1], w[1:])))
    return 2.0 * per_sample * n


def run(x: torch.Tensor, data_dir: str, repeats: int = 3, models=("shallow", "deep")) -> dict:
    peak = peak_gflops()
    results = {"peak_gflops": peak}
    for name in models:
        contenders = {
            "aelab compiled": lambda name=name: aelab_epoch(x, name, "compiled"),
            "aelab compiled, 2 threads": lambda name=name: aelab_epoch(x, name, "compiled", threads=2),
            "aelab autograd": lambda name=name: aelab_epoch(x, name, "autograd"),
            "dataloader": lambda name=name: dataloader_epoch(x, name),
            "gemm only": lambda name=name: gemm_epoch(x, name),
        }
        if have_keras():
            contenders["keras"] = lambda name=name: keras_epoch(name, data_dir)  # its own in-fit seconds
        if have_jax():
            contenders.update(
                jax_contenders(name, data_dir, JAX_TRAINING) | jax_contenders(name, data_dir, JAX_PRODUCTS)
            )
        cpu_seconds: dict[str, list[float]] = {}
        with flush_denormals():
            times = alternate(contenders, repeats, cpu_seconds)
        times["arithmetic floor"] = [epoch_flops(name, len(x)) / (peak * 1e9)]
        results[name] = summaries(times, cpu_seconds)
        print_table(name, results[name])
    return results


def print_table(name: str, table: dict) -> None:
    print(
        f"\n{name} autoencoder, one epoch of {60000 // 32 + (60000 % 32 > 0):,} steps at batch 32 (medians; "
        "ratio = time / aelab compiled):"
    )
    print_rows(table, "aelab compiled")
    fused = table["aelab compiled"]["median"]
    print(f"  aelab compiled is {fused / table['gemm only']['median']:.1f}× its own GEMM time", end="")
    print(f"; {table['keras']['median'] / fused:.1f}× faster than Keras" if "keras" in table else "")
    jax, products = fastest(table, JAX_TRAINING), fastest(table, JAX_PRODUCTS)
    if jax is not None:
        for name in (
            "aelab compiled",
            "aelab compiled, 2 threads",
        ):  # one thread, and the default of a model trained alone
            mine = table[name]["median"]
            print(
                f"  the fastest JAX ({jax}) takes {table[jax]['median'] / mine:.2f}× {name}'s time (issue 12's target: "
                f"≥ 1.5); {name} takes {mine / table[products]['median']:.2f}× XLA's products-only time ({products}; "
                "target: ≤ 1.5)"
            )


if __name__ == "__main__":
    from aelab.data import load_dataset
    from aelab.data.arrays import shared_tensor

    data_dir = os.environ.get("AELAB_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    images = shared_tensor(load_dataset("fashion-mnist", data_dir=data_dir, progress=False).train_images)
    run(images, data_dir)
