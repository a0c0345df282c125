"""One model on one thread or two: does splitting each batch over two cores pay? (`TrainConfig.threads`)

The compiled step with threads=2 computes each half of a batch on its own thread (forward, loss,
backward into its own gradient buffer), then runs Adam over the two halves of the flat buffer at
once, adding the two gradients. Whether that beats one thread depends on the products' cost against
the hand-off between threads (tens of µs per step): this script times shallow and deep epochs both
ways, alternated, on the machine at hand, so the default can be chosen by measurement. Run it on an
idle machine; with other work on the second core, two threads only add waiting.

    .venv/bin/python benchmarks/bench_threads.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_speed import ROOT, aelab_epoch  # noqa: E402
from common import alternate, machine, summary  # noqa: E402

from aelab.native import library  # noqa: E402
from aelab.train.trainer import flush_denormals  # noqa: E402


def run(x: torch.Tensor, repeats: int = 5, models=("shallow", "deep")) -> dict:
    results: dict = {"engine": library.describe()}
    for name in models:
        contenders = {
            f"{name}, 1 thread": lambda name=name: aelab_epoch(x, name, "compiled", threads=1),
            f"{name}, 2 threads": lambda name=name: aelab_epoch(x, name, "compiled", threads=2),
        }
        with flush_denormals():
            times = alternate(contenders, repeats)
        results[name] = {k: summary(v) for k, v in times.items()}
        one, two = (results[name][k]["median"] for k in contenders)
        for contender, s in results[name].items():
            print(f"  {contender:<18} {s['median']:6.3f} s [{s['min']:.3f}–{s['max']:.3f}]")
        print(f"  {name}: two threads take {two / one:.2f}× the time of one")
    return results


if __name__ == "__main__":
    from aelab.data import load_dataset
    from aelab.data.arrays import shared_tensor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    facts = machine()
    print(f"machine: {facts['cpu']}, {facts['cores']} cores; {library.describe()}")
    data_dir = os.environ.get("AELAB_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    images = shared_tensor(load_dataset("fashion-mnist", data_dir=data_dir, progress=False).train_images)
    run(images, args.repeats)
