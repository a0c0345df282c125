"""How the cost of training grows: with the number of images, the code size, the batch size and the
number of models in a sweep (docs/SCALING.md reads these numbers). One epoch each, fused engine,
Fashion-MNIST images; every point measured twice, alternating, median reported.
"""

from __future__ import annotations

import os
import resource
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import alternate, machine, summary  # noqa: E402

from aelab.models.batched import BatchedDenseAutoencoder  # noqa: E402
from aelab.models.dense import DenseAutoencoder  # noqa: E402
from aelab.objectives import PerModelBCE, ReconstructionObjective  # noqa: E402
from aelab.train.trainer import Trainer, flush_denormals  # noqa: E402


def shallow_epoch(x: torch.Tensor, code_size: int = 32, batch_size: int = 32) -> None:
    model = DenseAutoencoder(784, code_size, (), generator=torch.Generator().manual_seed(0))
    Trainer(
        model,
        ReconstructionObjective(),
        batch_size=batch_size,
        epochs=1,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine="compiled",
    ).fit(x)


def sweep_epoch(x: torch.Tensor, n_models: int) -> None:
    """`n_models` models of code size 32 (different seeds) trained together, as `aelab sweep` trains them."""
    model = BatchedDenseAutoencoder(
        784, [32] * n_models, (), [torch.Generator().manual_seed(m) for m in range(n_models)]
    )
    Trainer(
        model,
        PerModelBCE(),
        batch_size=32,
        epochs=1,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine="compiled",
        threads=min(torch.get_num_threads(), 2),
    ).fit(x)


def series(points: dict[str, callable], repeats: int = 2) -> dict[str, dict]:
    with flush_denormals():
        return {name: summary(samples) for name, samples in alternate(points, repeats).items()}


def run(x: torch.Tensor) -> dict:
    n = len(x)
    results = {
        "images": series({str(m): (lambda m=m: shallow_epoch(x[:m])) for m in (n // 8, n // 4, n // 2, n)}),
        "code_size": series({str(k): (lambda k=k: shallow_epoch(x, code_size=k)) for k in (8, 32, 128, 512)}),
        "batch_size": series({str(b): (lambda b=b: shallow_epoch(x, batch_size=b)) for b in (16, 32, 128, 512)}),
        "sweep_models": series({str(m): (lambda m=m: sweep_epoch(x[: n // 4], m)) for m in (1, 2, 4, 8, 16)}),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print_tables(results, n)
    return results


def print_tables(results: dict, n: int) -> None:
    rows = {
        "images": ("images", "s per 1,000 images", lambda key, s: s / int(key) * 1000),
        "code_size": ("code size", "× the time at 32", lambda key, s: s / results["code_size"]["32"]["median"]),
        "batch_size": ("batch size", "µs per image", lambda key, s: s / n * 1e6),
        "sweep_models": (
            f"models of code size 32 trained together ({n // 4:,} images)",
            "s per model",
            lambda key, s: s / int(key),
        ),
    }
    for series_name, (label, derived, f) in rows.items():
        print(f"\none epoch against {label}:")
        for key, s in results[series_name].items():
            print(
                f"  {key:>8}  {s['median']:7.2f} s [{s['min']:.2f}–{s['max']:.2f}]   "
                f"{f(key, s['median']):8.3f} {derived}"
            )
    print(f"\npeak RSS of this benchmark: {results['peak_rss_bytes'] / 2**30:.2f} GiB")


if __name__ == "__main__":
    from aelab.data import load_dataset
    from aelab.data.arrays import shared_tensor

    print(machine())
    data_dir = os.environ.get("AELAB_DATA_DIR")
    run(shared_tensor(load_dataset("fashion-mnist", data_dir=data_dir, progress=False).train_images))
