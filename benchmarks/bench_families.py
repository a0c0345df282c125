"""Speed of one epoch of the conv and variational families (batch 128, MNIST), side by side, as ratios.

    .venv/bin/python benchmarks/bench_families.py [--train-size 60000] [--repeats 3]

Contenders, alternated so machine noise hits all alike, each a fresh model trained for one epoch:
  aelab                 — `aelab train`'s path: model_and_trainer's Trainer (autograd + torch.optim.Adam for these families)
  torch loop            — the plainest good PyTorch loop: a resident tensor sliced by a permutation, forward,
                          BCE, backward, Adam (no DataLoader), PyTorch's default threads
  torch loop, 1 thread  — the same with torch.set_num_threads(1)
  torch channels_last   — the same with the model and each batch in channels-last memory format (oneDNN's
                          preferred layout for convolutions on the CPU)
  keras                 — the Keras example's own code (benchmarks/peers/keras_examples.py, in .venv-peers; left
                          out without `make bench-peers`); it times its epoch itself, its first (tracing) epoch excluded
and, for the dense VAE, its epoch beside the dense autoencoder's of the same shape (784→128→32→128→784):
  dense AE, fused / dense AE, autograd / dense VAE (fused: its compiled step, one thread; the whole-epoch
  comparison at batch 32 and 128, both compiled, is benchmarks/bench_dense_vae.py).
torch.compile is not among them: on a 2-core CPU its compilation takes longer than the epochs it would speed up.
Run it on an idle machine: timings on a shared one say nothing.
"""

from __future__ import annotations

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from common import timed_table, timing_arguments, timing_mnist  # noqa: E402
from peer_runs import have_keras, run_peer  # noqa: E402

from aelab.config import TrainConfig  # noqa: E402
from aelab.experiments.train_one import model_and_trainer, resolve, seeded_generators  # noqa: E402
from aelab.models.registry import get_family  # noqa: E402
from aelab.objectives import VariationalObjective  # noqa: E402
from aelab.train.step import adam, torch_threads  # noqa: E402

MNIST = (1, 28, 28)
BATCH = 128


def aelab_epoch(x: torch.Tensor, model: str, **settings) -> None:
    config = resolve(TrainConfig(model=model, batch_size=BATCH, epochs=1, code_size=settings.pop("code_size", 2), **settings))
    _, trainer, _, _ = model_and_trainer(config, x, x[:BATCH], seeded_generators(0), quiet=True)
    trainer.fit(x)


def torch_loop_epoch(x: torch.Tensor, model_name: str, channels_last: bool = False) -> None:
    """The plainest good loop; the VAE's loss is the Keras example's, written inline."""
    model = get_family(model_name).build(MNIST, 2, (), torch.Generator().manual_seed(0))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = adam(model, 1e-3)
    variational = VariationalObjective() if get_family(model_name).variational else None
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    for start in range(0, len(x), BATCH):
        batch = x.index_select(0, order[start:start + BATCH])
        inputs = batch.view(-1, *MNIST).contiguous(memory_format=torch.channels_last).view(len(batch), -1) if channels_last else batch
        logits, code = model(inputs)
        loss = variational(logits, code, batch)[0] if variational else F.binary_cross_entropy_with_logits(logits, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def keras_epoch(model: str, data_dir: str, train_size: int) -> float:
    return run_peer("keras_examples.py", "--model", model, "--data-dir", data_dir, "--train-size", str(train_size))["epoch_seconds"][0]


def conv_contenders(x: torch.Tensor, model: str, data_dir: str) -> dict:
    contenders = {
        "aelab": lambda: aelab_epoch(x, model),
        "torch loop": lambda: torch_loop_epoch(x, model),
        "torch loop, 1 thread": lambda: with_one_thread(lambda: torch_loop_epoch(x, model)),
        "torch channels_last": lambda: torch_loop_epoch(x, model, channels_last=True),
    }
    if have_keras():
        contenders["keras"] = lambda: keras_epoch(model, data_dir, len(x))
    return contenders


def with_one_thread(run) -> None:
    with torch_threads(1):
        run()


def dense_contenders(x: torch.Tensor) -> dict:
    shape = {"code_size": 32, "hidden_sizes": (128,)}
    return {"dense AE, fused": lambda: aelab_epoch(x, "deep", engine="fused", **shape),
            "dense AE, autograd": lambda: aelab_epoch(x, "deep", engine="autograd", **shape),
            "dense VAE": lambda: aelab_epoch(x, "vae", **shape)}


def run(x: torch.Tensor, data_dir: str, repeats: int = 3) -> dict:
    results = {}
    for title, reference, contenders in (("conv autoencoder", "aelab", conv_contenders(x, "conv", data_dir)),
                                         ("conv VAE", "aelab", conv_contenders(x, "conv-vae", data_dir)),
                                         ("dense VAE against the dense AE", "dense AE, fused", dense_contenders(x))):
        results[title] = timed_table(f"{title}: one epoch of {len(x)} MNIST images, batch {BATCH}, {repeats} alternated "
                                     "runs (median [min–max], ratio)", contenders, reference, repeats)
    return results


def main() -> int:
    args = timing_arguments(__doc__.splitlines()[0]).parse_args()
    x, data_dir = timing_mnist(args.train_size)
    run(x, data_dir, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
