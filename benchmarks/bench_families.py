"""Speed of one epoch of the conv and variational families (batch 128, MNIST), side by side, as ratios.

    .venv/bin/python benchmarks/bench_families.py [--train-size 60000] [--repeats 3] [--compile] [--threads N]

Contenders, alternated so machine noise hits all alike, each a fresh model trained for one epoch (PyTorch's
default threads, one per core, unless said):
  aelab                   — `aelab train`'s path: model_and_trainer's Trainer, autograd + torch.optim.Adam (foreach),
                            the models' kernels and feature maps channels-last (models/layout.py), ReLUs in place
  torch loop              — the plainest good PyTorch loop: a resident tensor sliced by a permutation (index_select,
                            no DataLoader), the same layers on PyTorch's default NCHW tensors, out-of-place ReLUs
                            (conv_variants.plain_model, plain_forward),
                            BCE (the VAE: the example's loss), zero_grad(set_to_none), backward, Adam (foreach)
  torch loop, 1 thread    — the same with torch.set_num_threads(1)
  torch loop, channels-last — the loop with the model's own forward (channels-last): aelab's arithmetic without its
                            Trainer, so aelab / this ratio is the Trainer's overhead
  … sub-pixel             — the channels-last loop with each stride-2 transposed convolution computed as a stride-1
                            convolution + pixel shuffle (conv_variants.SubPixelConvTranspose2d)
  … bf16 autocast         — the channels-last loop under torch.autocast("cpu", bfloat16) (AMX where the CPU has it);
                            not aelab's path: its epoch loss is printed beside the fp32 loop's to judge the precision
  … torch.compile         — with --compile only: the channels-last loop's model through torch.compile (inductor's C++
                            backend); one compiled model trains on, its first epoch (compilation) timed apart
  keras                   — the Keras example's own code (benchmarks/peers/keras_examples.py, in .venv-peers; left
                            out without `make bench-peers`); it times its epoch itself, its first (tracing) epoch
                            excluded
and, for the dense VAE, its epoch beside the dense autoencoder's of the same shape (784→128→32→128→784):
  dense AE, fused / dense AE, autograd / dense VAE (fused: its compiled step; the whole-epoch comparison at batch
  32 and 128, both compiled, is benchmarks/bench_dense_vae.py).
Before the tables: the multiply-adds of one training step (FlopCounterMode: forward and backward) and the CPU's
measured fp32 and bf16 matrix-product rates (one thread; × cores is the peak estimate); after each table, the
FLOP/s each contender reached. Run it on an idle machine: timings on a shared one say nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(__file__))
from common import alternate, print_rows, summaries, timing_arguments, timing_mnist  # noqa: E402
from conv_variants import plain_forward, plain_model, with_subpixel  # noqa: E402
from peer_runs import have_keras, run_peer  # noqa: E402

from aelab.config import TrainConfig  # noqa: E402
from aelab.models.registry import get_family  # noqa: E402
from aelab.models.variational import VariationalAutoencoder  # noqa: E402
from aelab.objectives import VariationalObjective  # noqa: E402
from aelab.tasks.recipe import model_and_trainer, resolve, seeded_generators  # noqa: E402
from aelab.train.step import adam, torch_threads  # noqa: E402

MNIST = (1, 28, 28)
BATCH = 128


def aelab_epoch(x: torch.Tensor, model: str, **settings) -> None:
    config = resolve(
        TrainConfig(model=model, batch_size=BATCH, epochs=1, code_size=settings.pop("code_size", 2), **settings)
    )
    _, trainer, _, _ = model_and_trainer(config, x, x[:BATCH], seeded_generators(0), quiet=True)
    trainer.fit(x)


@dataclass
class Loop:
    """A plain loop's model, optimiser and forward; `epoch` trains it once over `x` and returns the mean loss."""

    model: torch.nn.Module
    forward: Callable
    bf16: bool = False

    @classmethod
    def fresh(
        cls, model_name: str, layout: str = "nchw", subpixel: bool = False, bf16: bool = False, compiled: bool = False
    ) -> Loop:
        model = get_family(model_name).build(MNIST, 2, (), torch.Generator().manual_seed(0))  # channels-last as built
        if subpixel:
            model = with_subpixel(model)
        if layout == "nchw":
            return cls(plain_model(model), lambda x: plain_forward(model, x), bf16)
        return cls(model, torch.compile(model) if compiled else model, bf16)

    def __post_init__(self):
        self.optimizer = adam(self.model, 1e-3)
        self.variational = isinstance(self.model, VariationalAutoencoder)

    def epoch(self, x: torch.Tensor) -> float:
        order, total = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)), 0.0
        for start in range(0, len(x), BATCH):
            batch = x.index_select(0, order[start : start + BATCH])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                logits, code = self.forward(batch)
            logits = logits.float()  # the loss in fp32, as autocast's recipe has it
            loss = (
                VariationalObjective()(logits, code, batch)[0]
                if self.variational
                else F.binary_cross_entropy_with_logits(logits, batch)
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(batch)
        return total / len(x)


def keras_epoch(model: str, data_dir: str, train_size: int) -> float:
    return run_peer("keras_examples.py", "--model", model, "--data-dir", data_dir, "--train-size", str(train_size))[
        "epoch_seconds"
    ][0]


LOOPS = {  # contender → the plain loop's settings
    "torch loop": {},
    "torch loop, channels-last": {"layout": "channels-last"},
    "… sub-pixel": {"layout": "channels-last", "subpixel": True},
    "… bf16 autocast": {"layout": "channels-last", "bf16": True},
}


def conv_contenders(x: torch.Tensor, model: str, data_dir: str, losses: dict, compiled: Loop | None) -> dict:
    """The contenders of one conv table; the loops' epoch losses are kept in `losses` (name → list)."""

    def loop(name: str, **settings):
        return lambda: losses.setdefault(name, []).append(Loop.fresh(model, **settings).epoch(x))

    contenders = {"aelab": lambda: aelab_epoch(x, model)}
    loops = {name: settings for name, settings in LOOPS.items() if native_bf16() or not settings.get("bf16")}
    contenders.update({name: loop(name, **settings) for name, settings in loops.items()})
    contenders["torch loop, 1 thread"] = lambda: with_one_thread(loop("torch loop, 1 thread"))
    if compiled is not None:
        contenders["… torch.compile"] = lambda: compiled.epoch(x)  # trains on: its loss is not an epoch-1 loss
    if have_keras():
        contenders["keras"] = lambda: keras_epoch(model, data_dir, len(x))
    return contenders


def native_bf16() -> bool:
    """Whether the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX): elsewhere autocast emulates it (1 GFLOP/s
    on an AMD EPYC Zen 3, 2026-12-07), and its epoch would take hours for nothing to compare."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def with_one_thread(run) -> None:
    with torch_threads(1):
        run()


def compiled_loop(x: torch.Tensor, model: str) -> tuple[Loop, float]:
    """A channels-last loop through torch.compile, and the seconds its first epoch took beyond a later one's."""
    loop = Loop.fresh(model, layout="channels-last", compiled=True)
    started = time.perf_counter()
    loop.epoch(x)
    first = time.perf_counter() - started
    started = time.perf_counter()
    loop.epoch(x)
    return loop, first - (time.perf_counter() - started)


def step_flops(model: str) -> int:
    """FLOPs (2 per multiply-add) of one training step at batch 128: forward, loss and backward, as FlopCounterMode
    counts."""
    loop = Loop.fresh(model, layout="channels-last")
    batch = torch.rand(BATCH, 784, generator=torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        logits, code = loop.forward(batch)
        loss = (
            VariationalObjective()(logits, code, batch)[0]
            if loop.variational
            else F.binary_cross_entropy_with_logits(logits, batch)
        )
        loss.backward()
    return counter.get_total_flops()


def matmul_rate(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of one thread's n×n matrix product (best of `repeats`): near the core's peak for fp32 (MKL's sgemm)."""
    a, b = torch.rand(n, n, dtype=dtype), torch.rand(n, n, dtype=dtype)
    with torch_threads(1):
        torch.mm(a, b)
        best = min(timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def print_arithmetic() -> None:
    cores = os.cpu_count() or 1
    fp32, bf16 = matmul_rate(torch.float32), matmul_rate(torch.bfloat16)
    print(
        f"matrix products, one thread: fp32 {fp32:.0f} GFLOP/s, bf16 {bf16:.0f} GFLOP/s; × {cores} cores: "
        f"fp32 {fp32 * cores:.0f}, bf16 {bf16 * cores:.0f} GFLOP/s (the peaks a step could approach)"
    )
    for model in ("conv", "conv-vae"):
        print(f"{model}: one training step of {BATCH} = {step_flops(model) / 1e9:.2f} GFLOP (forward + backward)")


def print_rates(table: dict, model: str, n_images: int) -> None:
    flops = step_flops(model) * n_images / BATCH
    print(
        "   reached: "
        + ", ".join(f"{name} {flops / row['median'] / 1e9:.0f}" for name, row in table.items())
        + " GFLOP/s"
    )


def dense_contenders(x: torch.Tensor) -> dict:
    shape = {"code_size": 32, "hidden_sizes": (128,)}
    return {
        "dense AE, fused": lambda: aelab_epoch(x, "deep", engine="compiled", **shape),
        "dense AE, autograd": lambda: aelab_epoch(x, "deep", engine="autograd", **shape),
        "dense VAE": lambda: aelab_epoch(x, "vae", **shape),
    }


def run(x: torch.Tensor, data_dir: str, repeats: int = 3, compile_too: bool = False) -> dict:
    results = {}
    for title, model in (("conv autoencoder", "conv"), ("conv VAE", "conv-vae")):
        compiled = None
        if compile_too:
            compiled, seconds = compiled_loop(x, model)
            print(f"{title}: torch.compile's first epoch took {seconds:.1f} s longer than its second (compilation)")
        losses: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        table = summaries(alternate(conv_contenders(x, model, data_dir, losses, compiled), repeats, cpu), cpu)
        print(
            f"{title}: one epoch of {len(x)} MNIST images, batch {BATCH}, {repeats} alternated runs "
            "(median [min–max], ratio)"
        )
        print_rows(table, "aelab")
        print_rates(table, model, len(x))
        print(
            "   epoch loss: " + ", ".join(f"{name} {statistics.median(values):.4f}" for name, values in losses.items())
        )
        results[title] = table
    cpu = {}
    table = summaries(alternate(dense_contenders(x), repeats, cpu), cpu)
    print(
        f"dense VAE against the dense AE: one epoch of {len(x)} MNIST images, batch {BATCH}, {repeats} alternated runs"
    )
    print_rows(table, "dense AE, fused")
    results["dense VAE against the dense AE"] = table
    return results


def main() -> int:
    parser = timing_arguments(__doc__.splitlines()[0])
    parser.add_argument(
        "--compile", action="store_true", help="add torch.compile's loop (its compilation takes minutes)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="PyTorch's threads for every contender but Keras (default: PyTorch's, one per core); on a "
        "shared machine 1 gives steadier ratios: two OpenMP threads stall whenever either is descheduled",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, data_dir = timing_mnist(args.train_size)
    print_arithmetic()
    run(x, data_dir, args.repeats, args.compile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
