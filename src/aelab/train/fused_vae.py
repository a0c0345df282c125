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

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from aelab.errors import EngineError
from aelab.models.variational import DenseVAE
from aelab.objectives import VariationalObjective
from aelab.train.fused import MAX_LAYERS, CompiledStep, FlatAdam, float_pointer, share_rows

Views = Callable[[torch.Tensor], list[torch.Tensor]]  # a stored block → its parameters' views, in their shapes


@dataclass(frozen=True)
class Block:
    """One compiled layer's weight or bias as the kernels read it, and the parameters it holds."""

    params: list[nn.Parameter]
    stored: torch.Tensor  # the values in the kernels' layout
    views: Views


def weight_block(layers: list[nn.Linear], first: bool) -> Block:
    """The weights of `layers` (same input) stacked by output rows into one layer: stored (n_in, Σ n_out)
    when it is the first layer (x·W, as the dense step stores it: fused.flatten_parameters), else (Σ n_out, n_in)."""
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
            raise EngineError(f"compiled step: {len(self.encoder)} encoder and {len(self.decoder)} decoder layers; "
                              f"expected at most {MAX_LAYERS} each")
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
        return [view for block, start in zip(self.blocks, self.offsets)
                for view in block.views(buffer[start:start + block.stored.numel()].view(block.stored.shape))]

    def pointers(self, ffi, buffer: torch.Tensor, part: str) -> tuple[list, list]:
        """(weight pointers, bias pointers) into `buffer` for the encoder's or the decoder's layers."""
        first = 0 if part == "encoder" else 2 * len(self.encoder)
        count = len(getattr(self, part))
        return ([float_pointer(ffi, buffer, self.offsets[first + 2 * i]) for i in range(count)],
                [float_pointer(ffi, buffer, self.offsets[first + 2 * i + 1]) for i in range(count)])

    def widths(self, part: str) -> list[int]:
        layers = getattr(self, part)
        return [layers[0][0].in_features] + [sum(layer.out_features for layer in group) for group in layers]


@dataclass
class Share:
    """One share of a batch (the whole batch, or one half with two threads): the structs the kernel reads and
    the tensors behind them."""

    work: object
    batch: object
    sums: object
    first: int  # its first row in the batch
    kl_per_dim: torch.Tensor  # (k,) float64: Σ over the share's rows of each dimension's KL
    kept: list[torch.Tensor]


class CompiledVAEStep(CompiledStep):
    """The `Step` of a `DenseVAE` trained on `VariationalObjective` (BCE summed over pixels + β·KL, mean over images).

    Call with (target (b, D), inputs (b, D)); returns (loss, parts) with the objective's parts:
    reconstruction, kl (floats) and kl_per_dim ((k,) tensor). With `threads=2` each half of a batch is
    computed on its own thread into its own gradient buffer, and Adam adds the two (as the dense step does).
    """

    def __init__(self, model: nn.Module, objective, learning_rate: float, threads: int = 1):
        if type(model) is not DenseVAE:
            raise EngineError(f"compiled VAE step: model {type(model).__name__} is not one it computes; expected "
                              "DenseVAE (use engine 'autograd' for others)")
        if type(objective) is not VariationalObjective:
            raise EngineError(f"compiled VAE step: objective {type(objective).__name__} is not one it computes; "
                              "expected VariationalObjective (use engine 'autograd' for others)")
        if threads not in (1, 2):
            raise EngineError(f"compiled VAE step: threads {threads!r}: expected 1 or 2")
        self.native = self.load_native("compiled step")
        self.model, self.objective, self.threads, self.beta = model, objective, threads, float(objective.beta)
        self.layout = VAELayout(model)
        flat = self.layout.flatten()
        self.grads = [torch.zeros_like(flat) for _ in range(threads)]  # one gradient buffer per thread's share
        self.optimizer = FlatAdam(self.native, flat, self.grads[0], learning_rate,
                                  grad2=self.grads[1] if threads == 2 else None)
        self.net = self.model_struct()
        self.plans: dict[int, tuple[list[Share], torch.Tensor]] = {}  # batch size → (its shares, a (b, k) tensor)

    def model_struct(self):
        """aelab_vae_model: both halves' widths and the parameters' storage (the flat buffer)."""
        ffi, layout, flat = self.native.ffi, self.layout, self.optimizer.flat

        def half(part: str) -> dict:
            weights, biases = layout.pointers(ffi, flat, part)
            return {"sgemm": self.native.sgemm, "layers": len(weights), "code_layer": -1,  # no L1 term
                    "widths": layout.widths(part), "weights": weights, "biases": biases}
        return ffi.new("aelab_vae_model *", {"encoder": half("encoder"), "decoder": half("decoder"),
                                             "code_size": self.model.code_size, "beta": self.beta})

    def share(self, rows: int, first: int, batch: int, grad: torch.Tensor) -> Share:
        """The buffers of `rows` rows from row `first` of a batch of `batch`, writing their gradient into `grad`."""
        ffi, k = self.native.ffi, self.model.code_size
        kept: list[torch.Tensor] = []

        def half(part: str) -> dict:
            acts = [torch.empty(rows, width) for width in self.layout.widths(part)[1:]]
            deltas = [torch.empty_like(a) for a in acts]
            weight_grads, bias_grads = self.layout.pointers(ffi, grad, part)
            kept.extend(acts + deltas)
            return {"capacity": rows, "acts": [float_pointer(ffi, a) for a in acts],
                    "grads": [float_pointer(ffi, d) for d in deltas], "weight_grads": weight_grads, "bias_grads": bias_grads}
        code, code_grad, kl_per_dim = torch.empty(rows, k), torch.empty(rows, k), torch.zeros(k, dtype=torch.float64)
        work = ffi.new("aelab_vae_work *", {"encoder": half("encoder"), "decoder": half("decoder"),
                                            "code": float_pointer(ffi, code), "code_grad": float_pointer(ffi, code_grad)})
        sums = ffi.new("aelab_vae_sums *", {"kl_per_dim": ffi.cast("double *", kl_per_dim.data_ptr())})
        scale = 1.0 / batch  # Σ over pixels and code dimensions, mean over the whole batch's images
        return Share(work, ffi.new("aelab_batch *", {"rows": rows, "scale": scale}), sums, first, kl_per_dim,
                     kept + [code, code_grad])

    def plan(self, batch: int) -> tuple[list[Share], torch.Tensor]:
        """The shares of a batch of this size (one, or two halves with two threads and b ≥ 2), built once per size."""
        if batch not in self.plans:
            shares = [self.share(n, first, batch, self.grads[i])
                      for i, (first, n) in enumerate(share_rows(batch, self.threads))]
            self.plans[batch] = shares, torch.empty(batch, self.model.code_size)
        return self.plans[batch]

    def prepare(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[list[Share], list, list[torch.Tensor]]:
        """Point each share at its rows of this batch and of the noise ε; returns (shares, noise pointers, kept).

        ε is the model's next draw, as the autograd forward pass would take it (models/variational.py)."""
        ffi = self.native.ffi
        target, x = target.contiguous(), inputs.contiguous()
        shares, like = self.plan(len(target))
        noise = self.model.noise(like)  # (b, k) ~ N(0, I): the same seeded stream as autograd's forward pass
        self.point(shares, x, target)
        return shares, [float_pointer(ffi, noise, share.first * noise.shape[1]) for share in shares], [x, target, noise]

    def point(self, shares: list[Share], x: torch.Tensor, target: torch.Tensor) -> None:
        """Point each share's batch struct at its rows of the model's inputs `x` and the clean `target`."""
        ffi = self.native.ffi
        for share in shares:
            share.batch.x = float_pointer(ffi, x, share.first * x.shape[1])
            share.batch.target = float_pointer(ffi, target, share.first * target.shape[1])

    @torch.no_grad()
    def gradient(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[float, dict]:
        """Forward, loss and backward on one batch into the gradient buffers (no update), share after share;
        returns (loss, parts). `gradients()` reads the result."""
        shares, noise, kept = self.prepare(target, inputs)
        for share, eps in zip(shares, noise):
            self.native.lib.aelab_vae_gradient(self.net, share.work, share.batch, eps, share.sums)
        del kept
        return self.result(shares, len(target))

    @torch.no_grad()
    def __call__(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[float, dict]:
        opt = self.optimizer
        if len(self.plan(len(target))[0]) == 1:
            loss, parts = self.gradient(target, inputs)
            opt.advance()
            opt.update(0, opt.flat.numel())
            return loss, parts
        (first, second), (noise0, noise1), kept = self.prepare(target, inputs)
        opt.advance()  # both halves at once, then Adam in halves adding both gradients (kernels.c's helper thread)
        self.native.lib.aelab_vae_step_pair(self.net, first.work, first.batch, noise0, first.sums, second.work,
                                            second.batch, noise1, second.sums, opt.buffers[True], opt.scalars)
        del kept
        return self.result([first, second], len(target))

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

    @torch.no_grad()
    def run_steps(self, data: torch.Tensor, inputs: torch.Tensor | None, rows: torch.Tensor,
                  should_stop=lambda: False) -> list[tuple[float, dict]]:
        """Every step of `rows` in one compiled call (`aelab_vae_steps`), as the dense step's `run_steps`: each step's ε
        drawn first, in step order, as the steps one by one would draw it; equal to them bit for bit."""
        if not self.in_memory(data, inputs):
            return super().run_steps(data, inputs, rows, should_stop)
        steps, batch = rows.shape
        ffi, opt, k = self.native.ffi, self.optimizer, self.model.code_size
        shares, like = self.plan(batch)
        chunk, x, target = self.chunk_struct(batch, data.shape[1])
        self.point(shares, x, x if inputs is None else target)
        noise = torch.stack([self.model.noise(like) for _ in range(steps)])  # (steps, b, k)
        sums = torch.empty(steps * (2 + k), dtype=torch.float64)  # Σ BCE, Σ KL per step, then Σ KL per dimension
        rows = rows.contiguous()
        self.fill_chunk(chunk, data, inputs, rows)
        chunk.noise = float_pointer(ffi, noise)
        address = ffi.cast("double *", sums.data_ptr())
        chunk.bce, chunk.kl, chunk.kl_per_dim = address, address + steps, address + 2 * steps
        self.native.lib.aelab_vae_steps(self.net, self.vae_plan(batch, shares), opt.buffers[len(shares) == 2],
                                        opt.scalars, chunk)
        opt.steps += steps
        per_dim = (sums[2 * steps:].view(steps, k) / batch).float()
        bce, kl = sums[:steps].tolist(), sums[steps:2 * steps].tolist()
        return [self.parts(bce[s], kl[s], per_dim[s], batch) for s in range(steps)]

    def vae_plan(self, batch: int, shares: list[Share]):
        """The aelab_vae_plan of runs of steps of this batch size (its shares' structs stay in self.plans)."""
        plans = self.__dict__.setdefault("run_plans", {})
        if batch not in plans:
            ffi, two = self.native.ffi, len(shares) == 2
            plans[batch] = ffi.new("aelab_vae_plan *", {
                "mode": 1 if two else 0, "work": [s.work for s in shares] + [ffi.NULL] * (2 - len(shares)),
                "batch": [s.batch for s in shares] + [ffi.NULL] * (2 - len(shares)),
                "sums": [s.sums for s in shares] + [ffi.NULL] * (2 - len(shares)),
                "first_row": [s.first for s in shares] + [0] * (2 - len(shares))})
        return plans[batch]

    def gradients(self) -> dict[str, torch.Tensor]:
        """The last `gradient` call's gradient of every parameter (both shares' added), by the model's names."""
        names = {id(p): name for name, p in self.model.named_parameters()}
        return {names[id(p)]: g for p, g in zip(self.layout.params(), self.layout.views(sum(self.grads)))}
