"""The floor a compiled conv AE step could reach on this CPU (issue 29): its matrix products alone, timed.

A compiled convolutional step (im2col or implicit GEMM into the BLAS, as the dense engine does) would spend at
least the time of its products: per layer the forward product, the weight gradient and the input gradient
(the first layer needs no input gradient). This times exactly those products of the Keras conv AE at batch 128
on 28×28 MNIST-shaped inputs, as torch.mm calls on matrices already laid out (no im2col, no pooling, no
elementwise work), on one thread and on two, beside one full autograd step of aelab's conv AE — so the note
can say how much of today's step is products and how much a compiled step could win.

    .venv/bin/python benchmarks/bench_conv_floor.py [--repeats 5]

Layer shapes (M = positions × batch, K = the reduction, N = the outputs), forward product of each layer:
  conv 1→32 (28×28)    M = 100,352  K = 9    N = 32
  conv 32→32 (14×14)   M = 25,088   K = 288  N = 32
  convT 32→32 (7→14)   M = 6,272    K = 32   N = 288  (then col2im onto 14×14)
  convT 32→32 (14→28)  M = 25,088   K = 32   N = 288  (then col2im onto 28×28)
  conv 32→1 (28×28)    M = 100,352  K = 288  N = 1
"""

from __future__ import annotations

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, summary, timing_arguments  # noqa: E402

BATCH = 128
LAYERS = (  # name, M, K, N, whether its input gradient is needed
    ("conv 1→32", BATCH * 28 * 28, 9, 32, False),
    ("conv 32→32", BATCH * 14 * 14, 288, 32, True),
    ("convT 7→14", BATCH * 7 * 7, 32, 288, True),
    ("convT 14→28", BATCH * 14 * 14, 32, 288, True),
    ("conv 32→1", BATCH * 28 * 28, 288, 1, True),
)


def products(m: int, k: int, n: int, input_gradient: bool):
    """The three products of one layer's training step: Y = X·W (M×N), dW = Xᵀ·dY (K×N), dX = dY·Wᵀ (M×K)."""
    generator = torch.Generator().manual_seed(0)
    x, w = torch.rand(m, k, generator=generator), torch.rand(k, n, generator=generator)
    dy = torch.rand(m, n, generator=generator)

    def run() -> None:
        torch.mm(x, w)
        torch.mm(x.t(), dy)
        if input_gradient:
            torch.mm(dy, w.t())

    flops = 2 * m * k * n * (3 if input_gradient else 2)
    return run, flops


def step_seconds(runs: list, repeats: int) -> list[float]:
    """Seconds of every layer's products once (one training step's), `repeats` times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for run in runs:
            run()
        times.append(time.perf_counter() - start)
    return times


def autograd_step_seconds(repeats: int) -> list[float]:
    """One training step of aelab's conv AE through autograd (its engine today), batch 128, channels-last."""
    from aelab.models.registry import get_family
    from aelab.objectives import objective_for
    from aelab.train.step import AutogradStep

    model = get_family("conv").build((1, 28, 28), 32, (128,))
    step = AutogradStep(model, objective_for(0.0), 1e-3)
    x = torch.rand(BATCH, 784, generator=torch.Generator().manual_seed(0))  # rows, as the trainer hands them
    for _ in range(3):
        step(x, x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(x, x)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = timing_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    repeats = max(args.repeats, 5) * 4
    facts = machine()
    print(f"machine: {facts['cpu']}, {facts['cores']} cores; torch {facts['torch']}; {facts['date']}")
    layers = [products(m, k, n, grad) for _, m, k, n, grad in LAYERS]
    runs, flops = [run for run, _ in layers], sum(f for _, f in layers)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        step_seconds(runs, 3)  # warm the BLAS's buffers
        for (name, m, k, n, _), (run, layer_flops) in zip(LAYERS, layers):
            seconds = summary(step_seconds([run], repeats))
            print(
                f"  {threads} thread(s)  {name:<12} M {m:>7,} K {k:>3} N {n:>3}: {seconds['median'] * 1e3:6.2f} ms "
                f"({layer_flops / seconds['median'] / 1e9:5.1f} GFLOP/s)"
            )
        products_only = summary(step_seconds(runs, repeats))
        autograd = summary(autograd_step_seconds(repeats))
        print(
            f"{threads} thread(s): the step's products {products_only['median'] * 1e3:.1f} ms "
            f"[{products_only['min'] * 1e3:.1f}–{products_only['max'] * 1e3:.1f}] "
            f"({flops / products_only['median'] / 1e9:.0f} GFLOP/s of {flops / 1e9:.2f} GFLOP); "
            f"aelab's autograd step {autograd['median'] * 1e3:.1f} ms "
            f"[{autograd['min'] * 1e3:.1f}–{autograd['max'] * 1e3:.1f}]: "
            f"products are {products_only['median'] / autograd['median']:.0%} of it"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
