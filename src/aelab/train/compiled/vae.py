"""The compiled step of a dense VAE: the dense step plus the reparameterisation and the KL term, no autograd.

A `DenseVAE` is an encoder (dense, ReLU), a head (mean and log-variance), a sample z = μ + exp(½ log σ²)·ε
and a decoder (dense, ReLU, logits out). The compiled step lays the two head layers out as one layer of
2k outputs (so they take one matrix product), runs forward, loss and backward in one call
(`aelab_vae_gradient`, native/kernels.c; formulas (E1)–(E9) of docs/engine.md) and Adam over the flat
buffer (`FlatAdam`, as the dense step does).

The noise ε is drawn by the model's own `noise` (models/variational.py: seeded by its `noise_seed` and
`draws` buffers), the source the autograd forward pass draws from, so both engines see the same ε,
train to the same numbers, and a resumed run continues the stream. With two threads each half of a
batch (its rows of the inputs and of ε) runs on its own core, as in the dense step (`aelab_vae_step_pair`).
The step refuses (`EngineError`) anything else: a model that is not a `DenseVAE`, an objective other
than `VariationalObjective`. Evaluation runs the model's own forward pass (`Step.evaluate`): the test
set is a few calls, not thousands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from aelab.errors import EngineError
from aelab.models.variational import DenseVAE
from aelab.objectives import VariationalObjective
from aelab.train.compiled.base import (
    MAX_LAYERS,
    Chunk,
    CompiledStep,
    RunPlan,
    Share,
    ThreadMode,
    float_pointer,
    share_rows,
)

Views = Callable[[torch.Tensor], list[torch.Tensor]]  # a stored block → its parameters' views, in their shapes


@dataclass(frozen=True)
class Block:
    """One compiled layer's weight or bias as the kernels read it, and the parameters it holds."""

    params: list[nn.Parameter]
    stored: torch.Tensor  # the values in the kernels' layout
    views: Views


def weight_block(layers: list[nn.Linear], first: bool) -> Block:
    """The weights of `layers` (same input) stacked by output rows into one layer: stored (n_in, Σ n_out)
    when it is the first layer (x·W, as the dense step stores it: dense.flatten_parameters), else (Σ n_out, n_in)."""
    weights = [layer.weight for layer in layers]
    sizes = [w.shape[0] for w in weights]
    if first:
        stored = torch.cat([w.detach().T for w in weights], dim=1)  # (n_in, Σ n_out)
        return Block(weights, stored, lambda block: [part.T for part in block.split(sizes, dim=1)])
    return Block(weights, torch.cat([w.detach() for w in weights]), lambda block: list(block.split(sizes)))


def bias_block(layers: list[nn.Linear]) -> Block:
    biases = [layer.bias for layer in layers]
    sizes = [b.shape[0] for b in biases]
    return Block(biases, torch.cat([b.detach() for b in biases]), lambda block: list(block.split(sizes)))


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


class VAELayout:
    """Where each parameter of a DenseVAE lives in the flat buffer the compiled step trains.

    Compiled layers, in order: the encoder's hidden layers, the head ([mean; log_var] as one layer of
    2k outputs), the decoder's layers; each as (weight block, bias block). `views(buffer)` gives every
    parameter's view of a buffer in this layout (the parameters themselves, or their gradients).
    """

    def __init__(self, model: DenseVAE):
        self.encoder = [[layer] for layer in linears(model.encoder)] + [[model.mean, model.log_var]]
        self.decoder = [[layer] for layer in linears(model.decoder)]
        if max(len(self.encoder), len(self.decoder)) > MAX_LAYERS:
            raise EngineError(
                f"compiled step: {len(self.encoder)} encoder and {len(self.decoder)} decoder layers; "
                f"expected at most {MAX_LAYERS} each"
            )
        self.blocks: list[Block] = []
        for part in (self.encoder, self.decoder):
            for i, layers in enumerate(part):
                self.blocks += [weight_block(layers, first=i == 0), bias_block(layers)]
        self.offsets = [0]
        for block in self.blocks:
            self.offsets.append(self.offsets[-1] + block.stored.numel())

    def flatten(self) -> torch.Tensor:
        """Move every parameter into one contiguous buffer; each parameter becomes a view of it."""
        flat = torch.cat([block.stored.reshape(-1) for block in self.blocks])
        for param, view in zip(self.params(), self.views(flat)):
            param.data = view
        return flat

    def params(self) -> list[nn.Parameter]:
        return [p for block in self.blocks for p in block.params]

    def views(self, buffer: torch.Tensor) -> list[torch.Tensor]:
        """Each parameter's view of `buffer` (this layout), in `params()` order."""
        return [
            view
            for block, start in zip(self.blocks, self.offsets)
            for view in block.views(buffer[start : start + block.stored.numel()].view(block.stored.shape))
        ]

    def pointers(self, ffi, buffer: torch.Tensor, part: str) -> tuple[list, list]:
        """(weight pointers, bias pointers) into `buffer` for the encoder's or the decoder's layers."""
        first = 0 if part == "encoder" else 2 * len(self.encoder)
        count = len(getattr(self, part))
        return (
            [float_pointer(ffi, buffer, self.offsets[first + 2 * i]) for i in range(count)],
            [float_pointer(ffi, buffer, self.offsets[first + 2 * i + 1]) for i in range(count)],
        )

    def widths(self, part: str) -> list[int]:
        layers = getattr(self, part)
        return [layers[0][0].in_features] + [sum(layer.out_features for layer in group) for group in layers]


class CompiledVAEStep(CompiledStep):
    """The `Step` of a `DenseVAE` trained on `VariationalObjective` (BCE summed over pixels + β·KL, mean over images).

    Call with (target (b, D), inputs (b, D)); returns (loss, parts) with the objective's parts:
    reconstruction, kl (floats) and kl_per_dim ((k,) tensor). With `threads=2` each half of a batch is
    computed on its own thread into its own gradient buffer, and Adam adds the two (as the dense step does).
    """

    what = "compiled VAE step"

    def __init__(self, model: nn.Module, objective, learning_rate: float, threads: int = 1):
        if type(model) is not DenseVAE:
            raise EngineError(
                f"compiled VAE step: model {type(model).__name__} is not one it computes; expected "
                "DenseVAE (use engine 'autograd' for others)"
            )
        if type(objective) is not VariationalObjective:
            raise EngineError(
                f"compiled VAE step: objective {type(objective).__name__} is not one it computes; "
                "expected VariationalObjective (use engine 'autograd' for others)"
            )
        super().__init__(model, objective, self.one_or_two(threads))
        self.beta = float(objective.beta)
        self.layout = VAELayout(model)
        flat = self.layout.flatten()
        self.start_adam(flat, [torch.zeros_like(flat) for _ in range(threads)], learning_rate)  # one per thread's share
        self.net = self.model_struct()
        self.noise_like: dict[int, torch.Tensor] = {}  # batch size → a (b, k) tensor: the shape the model's noise takes

    def model_struct(self):
        """aelab_vae_model: both halves' widths and the parameters' storage (the flat buffer)."""
        ffi, layout, flat = self.native.ffi, self.layout, self.optimizer.flat

        def half(part: str) -> dict:
            weights, biases = layout.pointers(ffi, flat, part)
            return {
                "sgemm": self.native.sgemm,
                "layers": len(weights),
                "code_layer": -1,  # no L1 term
                "widths": layout.widths(part),
                "weights": weights,
                "biases": biases,
            }

        return ffi.new(
            "aelab_vae_model *",
            {
                "encoder": half("encoder"),
                "decoder": half("decoder"),
                "code_size": self.model.code_size,
                "beta": self.beta,
            },
        )

    def make_shares(self, batch: int) -> list[Share]:
        """One share per thread's rows (one, or two halves with two threads and b ≥ 2), each writing its own
        gradient buffer."""
        return [
            self.share(rows, first, batch, grad)
            for grad, (first, rows) in zip(self.grads, share_rows(batch, self.threads))
        ]

    def share(self, rows: int, first: int, batch: int, grad: torch.Tensor) -> Share:
        """The buffers of `rows` rows from row `first` of a batch of `batch`, writing their gradient into `grad`."""
        ffi, k = self.native.ffi, self.model.code_size
        kept: list[torch.Tensor] = []

        def half(part: str) -> dict:
            acts = [torch.empty(rows, width) for width in self.layout.widths(part)[1:]]
            deltas = [torch.empty_like(a) for a in acts]
            weight_grads, bias_grads = self.layout.pointers(ffi, grad, part)
            kept.extend(acts + deltas)
            return {
                "capacity": rows,
                "acts": [float_pointer(ffi, a) for a in acts],
                "grads": [float_pointer(ffi, d) for d in deltas],
                "weight_grads": weight_grads,
                "bias_grads": bias_grads,
            }

        code, code_grad, kl_per_dim = torch.empty(rows, k), torch.empty(rows, k), torch.zeros(k, dtype=torch.float64)
        work = ffi.new(
            "aelab_vae_work *",
            {
                "encoder": half("encoder"),
                "decoder": half("decoder"),
                "code": float_pointer(ffi, code),
                "code_grad": float_pointer(ffi, code_grad),
            },
        )
        sums = ffi.new("aelab_vae_sums *", {"kl_per_dim": ffi.cast("double *", kl_per_dim.data_ptr())})
        scale = 1.0 / batch  # Σ over pixels and code dimensions, mean over the whole batch's images
        batch_struct = ffi.new("aelab_batch *", {"rows": rows, "scale": scale})
        return Share(work, batch_struct, sums, first, kept + [code, code_grad], kl_per_dim)

    def noise(self, batch: int) -> torch.Tensor:
        """ε (b, k) ~ N(0, I): the model's next draw, the same seeded stream as autograd's forward pass takes
        (models/variational.py), so that both engines see the same ε and a resumed run continues it."""
        if batch not in self.noise_like:
            self.noise_like[batch] = torch.empty(batch, self.model.code_size)
        return self.model.noise(self.noise_like[batch])

    def noise_pointers(self, shares: list[Share], noise: torch.Tensor) -> list:
        """Each share's rows of ε (b, k)."""
        return [float_pointer(self.native.ffi, noise, share.first * noise.shape[1]) for share in shares]

    @torch.no_grad()
    def gradient(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[float, dict]:
        """Forward, loss and backward on one batch into the gradient buffers (no update), share after share;
        returns (loss, parts). `gradients()` reads the result."""
        target, x = target.contiguous(), inputs.contiguous()
        shares = self.plan(len(target))
        self.point(shares, x, target)
        noise = self.noise(len(target))
        for share, eps in zip(shares, self.noise_pointers(shares, noise)):
            self.native.lib.aelab_vae_gradient(self.net, share.work, share.batch, eps, share.sums)
        return self.result(shares, len(target))

    def take_step(self, shares: list[Share], batch: int) -> tuple[float, dict]:
        lib, opt, noise = self.native.lib, self.optimizer, self.noise(batch)
        eps = self.noise_pointers(shares, noise)
        if self.mode(shares) is ThreadMode.TWO_BY_ROWS:  # both halves at once, then Adam adding both gradients
            top, bottom = shares
            lib.aelab_vae_step_pair(
                self.net,
                top.work,
                top.batch,
                eps[0],
                top.sums,
                bottom.work,
                bottom.batch,
                eps[1],
                bottom.sums,
                opt.buffers[True],
                opt.scalars,
            )
        else:
            lib.aelab_vae_gradient(self.net, shares[0].work, shares[0].batch, eps[0], shares[0].sums)
            opt.update(0, opt.flat.numel())
        return self.result(shares, batch)

    def result(self, shares: list[Share], batch: int) -> tuple[float, dict]:
        """(loss, parts) as VariationalObjective names them, from the kernel's sums over the shares."""
        first = shares[0]
        bce, kl, kl_per_dim = first.sums.bce, first.sums.kl, first.kl_per_dim
        for share in shares[1:]:
            bce, kl, kl_per_dim = bce + share.sums.bce, kl + share.sums.kl, kl_per_dim + share.kl_per_dim
        return self.parts(bce, kl, (kl_per_dim / batch).float(), batch)

    def parts(self, bce: float, kl: float, kl_per_dim: torch.Tensor, batch: int) -> tuple[float, dict]:
        """(loss, parts) from a batch's Σ BCE, Σ KL and its mean KL per dimension (float32)."""
        reconstruction, kl = bce / batch, kl / batch
        total = reconstruction + self.beta * kl  # Higgins et al. 2017, eq. 4 (β = 1: −ELBO)
        return total, {"reconstruction": reconstruction, "kl": kl, "kl_per_dim": kl_per_dim}

    def make_run_plan(self, shares: list[Share]) -> RunPlan:
        """aelab_vae_plan: the mode, and each share's structs and first row (where its rows of ε start)."""
        ffi, empty = self.native.ffi, [self.native.ffi.NULL] * (2 - len(shares))
        return RunPlan(
            ffi.new(
                "aelab_vae_plan *",
                {
                    "mode": int(self.mode(shares)),
                    "work": [share.work for share in shares] + empty,
                    "batch": [share.batch for share in shares] + empty,
                    "sums": [share.sums for share in shares] + empty,
                    "first_row": [share.first for share in shares] + [0] * (2 - len(shares)),
                },
            ),
            [],
        )

    def take_steps(self, shares: list[Share], chunk: Chunk, steps: int) -> list[tuple[float, dict]]:
        """`aelab_vae_steps`: each step's ε drawn first, in step order, as the steps one by one would draw it."""
        ffi, opt, k, batch = self.native.ffi, self.optimizer, self.model.code_size, chunk.x.shape[0]
        noise = torch.stack([self.noise(batch) for _ in range(steps)])  # (steps, b, k)
        sums = torch.empty(steps * (2 + k), dtype=torch.float64)  # Σ BCE, Σ KL per step, then Σ KL per dimension
        chunk.struct.noise = float_pointer(ffi, noise)
        address = ffi.cast("double *", sums.data_ptr())
        chunk.struct.bce, chunk.struct.kl, chunk.struct.kl_per_dim = address, address + steps, address + 2 * steps
        two_shares = self.mode(shares) is ThreadMode.TWO_BY_ROWS
        self.native.lib.aelab_vae_steps(
            self.net, self.run_plan(batch).struct, opt.buffers[two_shares], opt.scalars, chunk.struct
        )
        per_dim = (sums[2 * steps :].view(steps, k) / batch).float()
        bce, kl = sums[:steps].tolist(), sums[steps : 2 * steps].tolist()
        return [self.parts(bce[s], kl[s], per_dim[s], batch) for s in range(steps)]

    def gradients(self) -> dict[str, torch.Tensor]:
        """The last `gradient` call's gradient of every parameter (both shares' added), by the model's names."""
        names = {id(p): name for name, p in self.model.named_parameters()}
        return {names[id(p)]: g for p, g in zip(self.layout.params(), self.layout.views(sum(self.grads)))}
