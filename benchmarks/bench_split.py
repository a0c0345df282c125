"""How two threads should share a dense step on this CPU: by rows or by columns (`two_thread_split`'s rule).

The rule (train/compiled/dense.py) takes columns when the parameters with their gradient and Adam's two
moments (16 bytes each) outgrow one core's L2 and the batch is at most 64; it was measured on an Intel
Xeon with a 2 MiB L2 (BENCHMARKS.md, "Issue 12, stop 14"). This script repeats that grid on the machine
at hand: bare compiled steps (no trainer), runs of 50 steps as the trainer hands them, one 19,200-image
epoch per sample, the two splits alternated, medians of `--repeats`. Run it on an idle machine.

    .venv/bin/python benchmarks/bench_split.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import alternate, machine, summary  # noqa: E402

from aelab.models.dense import DenseAutoencoder  # noqa: E402
from aelab.native import library  # noqa: E402
from aelab.objectives import ReconstructionObjective  # noqa: E402
from aelab.train.compiled.dense import CompiledDenseStep, two_thread_split  # noqa: E402
from aelab.train.trainer import flush_denormals  # noqa: E402

IMAGES = 19_200  # one epoch of the grid: 600 steps at batch 32
RUN = 50  # steps per compiled call, as the trainer's refresh
MODELS = {
    "784→32→784": (32, ()),
    "784→64→16→64→784": (16, (64,)),
    "784→128→64→32→…": (32, (128, 64)),
    "784→256→784": (256, ()),
    "784→512→64→…": (64, (512,)),
}
BATCHES = (16, 32, 64, 128)


def epoch(code_size: int, hidden: tuple[int, ...], batch: int, split: str, data: torch.Tensor):
    """A contender: one epoch of bare compiled steps with the given split (a fresh model each time)."""
    model = DenseAutoencoder(784, code_size, hidden, generator=torch.Generator().manual_seed(0))
    step = CompiledDenseStep(model, ReconstructionObjective(), 1e-3, threads=2, batch_size=batch, split=split)
    order = torch.randperm(IMAGES, generator=torch.Generator().manual_seed(1))[: IMAGES // batch * batch]
    rows = order.view(-1, batch)

    def run() -> None:
        with step.running():
            for start in range(0, len(rows), RUN):
                step.run_steps(data, None, rows[start : start + RUN].contiguous())

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    facts = machine()
    print(
        f"machine: {facts['cpu']}, {facts['cores']} cores, L2 {library.l2_cache_bytes() // 1024} KiB per core; "
        f"{library.describe().get('blas')}; {facts['date']}"
    )
    data = torch.rand(IMAGES, 784, generator=torch.Generator().manual_seed(2))
    print(f"columns / rows, seconds per {IMAGES:,}-image epoch (below 1: columns faster); * = the rule's choice")
    print(f"{'model (parameters)':<34}" + "".join(f"{'batch ' + str(b):>16}" for b in BATCHES))
    for name, (code_size, hidden) in MODELS.items():
        parameters = sum(p.numel() for p in DenseAutoencoder(784, code_size, hidden).parameters())
        cells = []
        for batch in BATCHES:
            contenders = {split: epoch(code_size, hidden, batch, split, data) for split in ("rows", "columns")}
            with flush_denormals():
                times = {k: summary(v)["median"] for k, v in alternate(contenders, args.repeats).items()}
            chosen = two_thread_split(parameters, batch)
            cells.append(
                f"{times['columns'] / times['rows']:.2f}{'*' if chosen == 'columns' else ' '} ({times[chosen]:.2f} s)"
            )
        print(f"{name + f' ({parameters:,})':<34}" + "".join(f"{c:>16}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
