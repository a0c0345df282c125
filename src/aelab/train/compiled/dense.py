"""The compiled step of a dense autoencoder: forward, backward and Adam in compiled calls, no autograd.

At batch 32 the study's models do ~1 MFLOP per matrix product, so a step's time is mostly
framework overhead: autograd's graph, the optimiser's per-parameter bookkeeping, fresh allocations,
a dozen small elementwise kernels, and the Python between them. Here every buffer is allocated
once, the step is one call into native/kernels.c (products by SciPy's BLAS, native/library.py), and
Adam updates all parameters as one flat buffer. The formulas are docs/engine.md's (E1)–(E6).

The step is built from the model and the objective and refuses (`EngineError`) what it does not
compute: a model that is not a `DenseAutoencoder`, an objective other than BCE from logits with an
optional L1 term on the code. The autograd step (train/step.py) is its reference; tests/test_fused.py
checks that both train to the same weights.

Two threads (`threads=2`) share a step one of two ways, each one compiled call whose helper thread
waits for work spinning, so that a hand-off costs about a microsecond (`two_thread_split` chooses,
by the measurements it cites; config.json records which):
  - by rows (`aelab_dense_step_pair`): each thread computes half the batch's forward and backward
    pass into its own gradient buffer, then Adam, again on two threads, adds the two halves'
    gradients as it updates each half of the flat buffer;
  - by columns (`aelab_dense_step_split`): each thread computes half of every layer's units for
    the whole batch and updates its own weights, block by block as their gradient is computed, so a
    model too big for one core's L2 keeps each half of it on one core.
"""

from __future__ import annotations

import torch
from torch import nn

from aelab.errors import EngineError
from aelab.models.dense import DenseAutoencoder
from aelab.native import library
from aelab.objectives import ReconstructionObjective, SparseObjective
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


def two_thread_split(parameters: int, batch: int | None) -> str:
    """How two threads share a dense step: "rows" (each computes half the batch with all the weights, and Adam adds
    the two gradients: aelab_dense_step_pair) or "columns" (each computes half of every layer's units for the whole
    batch, and updates only its own weights: aelab_dense_step_split).

    Chosen by measurement (BENCHMARKS.md "Issue 12, stop 14", Intel Xeon with a 2 MiB L2): columns ran
    13–33% faster when the parameters with their gradient and Adam's two moments (16 bytes each) outgrow one core's L2
    and the batch is at most 64 (row halves of ≤ 32 rows run the products at a low rate, and both cores stream every
    weight); rows ran 4–20% faster everywhere else. Without a batch size (None): rows, as before.
    """
    if batch is None or batch > 64 or parameters * 16 <= library.l2_cache_bytes():
        return "rows"
    return "columns"


def flatten_parameters(model: nn.Module, transposed: set[int]) -> torch.Tensor:
    """Move every parameter into one contiguous buffer; each parameter becomes a view of it.

    Parameters whose id is in `transposed` are stored as their transpose (a (n_in, n_out) block)
    and viewed back as (n_out, n_in): for the first layer, x·W with W stored (n_in, n_out) is about
    3× faster than with W stored (n_out, n_in) with MKL (17.5 µs against 58.6 µs per 32×784×32
    product, one thread, measured 2026-11-27), and it is the layout a sweep's shared first layer needs.
    """
    params = list(model.parameters())
    flat = torch.cat([(p.detach().T if id(p) in transposed else p.detach()).reshape(-1) for p in params])
    offset = 0
    for p in params:
        block = flat[offset : offset + p.numel()]
        p.data = block.view(p.shape[1], p.shape[0]).T if id(p) in transposed else block.view_as(p)
        offset += p.numel()
    return flat


def l1_terms(objective) -> tuple[float, str]:
    """(L1 weight, reduction) of an objective the compiled step computes; refuses any other."""
    if type(objective) is ReconstructionObjective:
        return 0.0, "mean"
    if type(objective) is SparseObjective:
        return objective.l1, objective.reduction
    raise EngineError(
        f"compiled step: objective {type(objective).__name__} is not one it computes; expected "
        "ReconstructionObjective or SparseObjective (use engine 'autograd' for others)"
    )


class CompiledDenseStep(CompiledStep):
    """The `Step` of a `DenseAutoencoder` trained on BCE from logits (+ optional L1 on the code).

    Call with (target (b, D), inputs (b, D)); returns (loss, parts) as Python floats.
    """

    def __init__(
        self,
        model: nn.Module,
        objective,
        learning_rate: float,
        threads: int = 1,
        batch_size: int | None = None,
        split: str | None = None,
    ):
        if type(model) is not DenseAutoencoder:
            raise EngineError(
                f"compiled step: model {type(model).__name__} is not one it computes; expected "
                "DenseAutoencoder (use engine 'autograd' for others)"
            )
        self.l1, self.l1_reduction = l1_terms(objective)
        super().__init__(model, objective, self.one_or_two(threads))
        self.layers = [m for m in model.modules() if isinstance(m, nn.Linear)]  # encoder, then decoder
        if split not in (None, "rows", "columns"):
            raise EngineError(f"compiled step: split {split!r}: expected 'rows' or 'columns'")
        parameters = sum(p.numel() for p in model.parameters())
        self.split = (split or two_thread_split(parameters, batch_size)) if threads == 2 else None
        if len(self.layers) > MAX_LAYERS:
            raise EngineError(f"compiled step: {len(self.layers)} layers; expected at most {MAX_LAYERS}")
        self.code_layer = len([m for m in model.encoder if isinstance(m, nn.Linear)]) - 1
        flat = flatten_parameters(model, transposed={id(self.layers[0].weight)})
        shares = 2 if self.split == "rows" else 1  # split by columns, weight gradients are blocks Adam takes at once
        self.start_adam(flat, [torch.zeros_like(flat) for _ in range(shares)], learning_rate)  # one per row share
        self.net = self.model_struct()

    def describe(self) -> dict:
        return {**super().describe(), **({"split": self.split} if self.split else {})}

    def mode(self, shares: list[Share]) -> ThreadMode:
        """Split by columns, the one whole-batch share is computed on both threads."""
        return ThreadMode.TWO_BY_COLUMNS if self.split == "columns" else super().mode(shares)

    def model_struct(self):
        """aelab_dense_model for this model: its widths and the parameters' storage (views of the flat buffer)."""
        ffi, layers = self.native.ffi, self.layers
        widths = [layers[0].in_features] + [layer.out_features for layer in layers]
        return ffi.new(
            "aelab_dense_model *",
            {
                "sgemm": self.native.sgemm,
                "layers": len(layers),
                "code_layer": self.code_layer,
                "widths": widths,
                "weights": [float_pointer(ffi, layer.weight) for layer in layers],
                "biases": [float_pointer(ffi, layer.bias) for layer in layers],
            },
        )

    def work_struct(self, rows: int, grad: torch.Tensor | None) -> tuple[object, list[torch.Tensor]]:
        """aelab_dense_work for `rows` rows: fresh activation buffers and, with `grad`, gradient views
        into it in the parameters' layouts (the flat buffer's offsets). Returns (struct, tensors to keep)."""
        ffi = self.native.ffi
        acts = [torch.empty(rows, layer.out_features) for layer in self.layers]
        deltas = [torch.empty(rows, layer.out_features) for layer in self.layers]
        fields = {
            "capacity": rows,
            "acts": [float_pointer(ffi, a) for a in acts],
            "grads": [float_pointer(ffi, d) for d in deltas],
        }
        if grad is not None:
            fields["weight_grads"] = [float_pointer(ffi, grad, self.offset(layer.weight)) for layer in self.layers]
            fields["bias_grads"] = [float_pointer(ffi, grad, self.offset(layer.bias)) for layer in self.layers]
        return ffi.new("aelab_dense_work *", fields), acts + deltas

    def offset(self, param: torch.Tensor) -> int:
        """Where a parameter starts in the flat buffer: where its gradient starts in a gradient buffer."""
        flat = self.optimizer.flat
        return (param.data_ptr() - flat.data_ptr()) // flat.element_size()

    def batch_fields(self, batch: int, rows: int) -> dict:
        """aelab_batch's factors for `rows` rows of a batch of `batch`: the whole batch's mean-BCE scale (E2) and L1
        gradient (E6)."""
        add = (self.l1 / batch if self.l1_reduction == "mean" else self.l1) if self.l1 > 0 else 0.0  # (E6)
        return {"rows": rows, "scale": 1.0 / (batch * self.layers[-1].out_features), "l1_add": add}  # (E2)

    def make_shares(self, batch: int) -> list[Share]:
        """One share per thread's rows (one, or two halves when two threads split by rows and b ≥ 2), each summing
        into its own aelab_sums; split by columns, one share of the whole batch (`column_share`)."""
        if self.split == "columns":
            return [self.column_share(batch)]
        ffi, shares = self.native.ffi, []
        for grad, (first, rows) in zip(self.grads, share_rows(batch, self.threads)):
            work, kept = self.work_struct(rows, grad)
            fields = self.batch_fields(batch, rows)
            sums = ffi.new("aelab_sums[1]")  # an array, as a column share's two: `take_step` reads every share alike
            shares.append(Share(work, ffi.new("aelab_batch *", fields), sums, first, kept))
        return shares

    def column_share(self, batch: int) -> Share:
        """The whole batch split by columns: aelab_split_work (activations, both threads' partial products and
        gradient blocks), and two aelab_sums, one per thread."""
        ffi = self.native.ffi
        acts = [torch.empty(batch, layer.out_features) for layer in self.layers]
        deltas = [torch.empty(batch, layer.out_features) for layer in self.layers]
        partials = [torch.empty(batch, max(layer.in_features for layer in self.layers)) for _ in range(4)]
        blocks = [torch.empty(self.native.lib.AELAB_GRADIENT_BLOCK) for _ in range(2)]
        work = ffi.new(
            "aelab_split_work *",
            {
                "capacity": batch,
                "acts": [float_pointer(ffi, a) for a in acts],
                "grads": [float_pointer(ffi, d) for d in deltas],
                "partials": [float_pointer(ffi, p) for p in partials],
                "blocks": [float_pointer(ffi, b) for b in blocks],
            },
        )
        return Share(
            work,
            ffi.new("aelab_batch *", self.batch_fields(batch, batch)),
            ffi.new("aelab_sums[2]"),
            0,
            acts + deltas + partials + blocks,
        )

    def take_step(self, shares: list[Share], batch: int) -> tuple[float, dict[str, float]]:
        lib, opt, mode = self.native.lib, self.optimizer, self.mode(shares)
        if mode is ThreadMode.TWO_BY_COLUMNS:
            whole = shares[0]
            lib.aelab_dense_step_split(
                self.net, whole.work, whole.batch, whole.sums + 0, whole.sums + 1, opt.buffers[False], opt.scalars
            )
        elif mode is ThreadMode.TWO_BY_ROWS:  # both halves at once, then Adam in halves adding both gradients
            top, bottom = shares
            lib.aelab_dense_step_pair(
                self.net,
                top.work,
                top.batch,
                top.sums,
                bottom.work,
                bottom.batch,
                bottom.sums,
                opt.buffers[True],
                opt.scalars,
            )
        else:
            lib.aelab_dense_gradient(self.net, shares[0].work, shares[0].batch, shares[0].sums)
            opt.update(0, opt.flat.numel())
        parts = [part for share in shares for part in share.sums]  # one per thread
        bce = sum(part.bce for part in parts) / (batch * self.layers[-1].out_features)  # mean over b × D values (E2)
        return self.result(bce, sum(part.code_sum for part in parts), batch)

    def make_run_plan(self, shares: list[Share]) -> RunPlan:
        """aelab_dense_plan: the mode and the structs its call takes (the shares', which stay in self.shares)."""
        ffi, mode = self.native.ffi, self.mode(shares)
        if mode is ThreadMode.TWO_BY_COLUMNS:
            fields = {"split": shares[0].work, "whole": shares[0].batch}
        else:  # one thread, or by rows: a batch of one row has no halves
            empty = [ffi.NULL] * (2 - len(shares))
            fields = {
                "work": [share.work for share in shares] + empty,
                "batch": [share.batch for share in shares] + empty,
            }
        sums = ffi.new("aelab_sums[2]")
        return RunPlan(ffi.new("aelab_dense_plan *", {"mode": int(mode), **fields, "sums": sums}), [sums])

    def take_steps(self, shares: list[Share], chunk: Chunk, steps: int) -> list[tuple[float, dict[str, float]]]:
        """`aelab_dense_steps`: each step as `take_step` computes it, its Σ BCE and Σ code into one array."""
        ffi, opt, (batch, cols) = self.native.ffi, self.optimizer, chunk.x.shape
        sums = ffi.new("double[]", 2 * steps)  # Σ BCE, then Σ code, per step
        chunk.struct.bce, chunk.struct.code_sum = sums, sums + steps
        plan = self.run_plan(batch)
        two_shares = self.mode(shares) is ThreadMode.TWO_BY_ROWS
        self.native.lib.aelab_dense_steps(self.net, plan.struct, opt.buffers[two_shares], opt.scalars, chunk.struct)
        return [self.result(sums[s] / (batch * cols), sums[steps + s], batch) for s in range(steps)]

    def result(self, bce: float, code_sum: float, batch: int) -> tuple[float, dict[str, float]]:
        """(loss, parts) from a mean BCE and the sum of the code's activations: the objective's own parts."""
        if self.l1 > 0:
            l1 = self.l1 * code_sum / (batch if self.l1_reduction == "mean" else 1)  # w·Σ|h| per sample or per batch
            return bce + l1, {"bce": bce, "l1": l1}
        return bce, {"bce": bce}

    @torch.no_grad()
    def evaluate(self, target: torch.Tensor, inputs: torch.Tensor | None, batch_size: int) -> float:
        """Mean objective over `target` (the model sees `inputs` if given), chunk by chunk, compiled."""
        ffi, total = self.native.ffi, 0.0
        inputs = target if inputs is None else inputs
        work, kept = self.work_struct(min(batch_size, len(target)), None)
        batch, sums = ffi.new("aelab_batch *"), ffi.new("aelab_sums *")
        for start in range(0, len(target), batch_size):
            clean, x = target[start : start + batch_size].contiguous(), inputs[start : start + batch_size].contiguous()
            batch.x, batch.target, batch.rows = float_pointer(ffi, x), float_pointer(ffi, clean), len(clean)
            self.native.lib.aelab_dense_loss(self.net, work, batch, sums)
            loss, _ = self.result(sums.bce / clean.numel(), sums.code_sum, len(clean))
            total += loss * len(clean)
        del kept
        return total / len(target)
