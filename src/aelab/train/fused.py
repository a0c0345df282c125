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

import math
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from aelab.errors import EngineError
from aelab.models.dense import DenseAutoencoder
from aelab.native import library
from aelab.objectives import ReconstructionObjective, SparseObjective
from aelab.train.step import Step, torch_threads

MAX_LAYERS = 16  # aelab_kernels.h's AELAB_MAX_LAYERS


def float_pointer(ffi, tensor: torch.Tensor | None, offset: int = 0):
    """A `float *` into a contiguous float32 tensor's storage (NULL for None); the caller keeps the tensor alive."""
    if tensor is None:
        return ffi.NULL
    return ffi.cast("float *", tensor.data_ptr() + offset * tensor.element_size())


class FlatAdam:
    """Adam over one flat parameter buffer (docs/engine.md (E5)), with torch.optim.Adam's formulas
    and state_dict layout (one 'param'), so checkpoints of either engine hold the same tensors.

    The gradient is `grad`, plus `grad2` when two threads each computed half a batch. The step count
    is a Python int (no tensor op per step).
    """

    def __init__(self, native: library.Native, flat: torch.Tensor, grad: torch.Tensor, lr: float,
                 grad2: torch.Tensor | None = None, betas=(0.9, 0.999), eps: float = 1e-7):
        self.native, self.flat, self.grad, self.grad2 = native, flat, grad, grad2
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)
        self.steps = 0
        ffi = native.ffi
        self.buffers = {two: ffi.new("aelab_adam_buffers *", {
            "params": float_pointer(ffi, flat), "exp_avg": float_pointer(ffi, self.exp_avg),
            "exp_avg_sq": float_pointer(ffi, self.exp_avg_sq), "grad": float_pointer(ffi, grad),
            "grad2": float_pointer(ffi, grad2 if two else None), "size": flat.numel()}) for two in (False, True)}
        self.scalars = ffi.new("aelab_adam_scalars *", {"beta1": betas[0], "beta2": betas[1], "one_minus_beta1": 1 - betas[0],
                                                        "one_minus_beta2": 1 - betas[1], "eps": eps})

    def advance(self) -> None:
        """Count one step and set its bias corrections (E5): lr/(1 − β1ᵗ) and √(1 − β2ᵗ)."""
        self.steps += 1
        beta1, beta2 = self.betas
        self.scalars.step_size = self.lr / (1 - beta1 ** self.steps)
        self.scalars.bc2_sqrt = math.sqrt(1 - beta2 ** self.steps)

    def update(self, start: int, end: int, two_shares: bool = False) -> None:
        """The compiled update of [start, end) with the scalars `advance` set; `two_shares`: add grad2."""
        self.native.lib.aelab_adam(self.buffers[two_shares], start, end, self.scalars)

    def state_dict(self) -> dict:
        return {"state": {0: {"step": torch.tensor(float(self.steps)), "exp_avg": self.exp_avg,
                              "exp_avg_sq": self.exp_avg_sq}},
                "param_groups": [{"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "params": [0]}]}

    def load_state_dict(self, state: dict) -> None:
        slots = state["state"][0]
        if slots["exp_avg"].shape != self.flat.shape:
            raise RuntimeError(f"optimiser state of {tuple(slots['exp_avg'].shape)} values, expected {tuple(self.flat.shape)}")
        self.exp_avg.copy_(slots["exp_avg"]), self.exp_avg_sq.copy_(slots["exp_avg_sq"])
        self.steps = int(slots["step"].item())


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
        block = flat[offset:offset + p.numel()]
        p.data = block.view(p.shape[1], p.shape[0]).T if id(p) in transposed else block.view_as(p)
        offset += p.numel()
    return flat


def l1_terms(objective) -> tuple[float, str]:
    """(L1 weight, reduction) of an objective the compiled step computes; refuses any other."""
    if type(objective) is ReconstructionObjective:
        return 0.0, "mean"
    if type(objective) is SparseObjective:
        return objective.l1, objective.reduction
    raise EngineError(f"compiled step: objective {type(objective).__name__} is not one it computes; expected "
                      "ReconstructionObjective or SparseObjective (use engine 'autograd' for others)")


class CompiledStep(Step):
    """What the compiled steps share: PyTorch and the BLAS held to one thread per training thread (the
    steps split work themselves), and their record."""

    native: library.Native
    threads: int

    @contextmanager
    def running(self) -> Iterator[None]:
        with torch_threads(1), self.native.one_blas_thread():
            yield

    def describe(self) -> dict:
        return {"engine": "compiled", "threads": self.threads, **library.describe()}

    @staticmethod
    def in_memory(*tensors: torch.Tensor | None) -> bool:
        """Whether a run of steps can read these directly: float32, contiguous, in CPU memory (None: not given)."""
        return all(t is None or (t.dtype == torch.float32 and t.is_contiguous() and t.device.type == "cpu") for t in tensors)

    def chunk_struct(self, batch: int, cols: int) -> tuple:
        """(aelab_chunk, gather buffers x and target) for runs of steps of this batch size, made once."""
        chunks = self.__dict__.setdefault("chunks", {})
        if (batch, cols) not in chunks:
            ffi, opt = self.native.ffi, self.optimizer
            x, target = torch.empty(batch, cols), torch.empty(batch, cols)
            chunks[batch, cols] = (ffi.new("aelab_chunk *", {
                "cols": cols, "batch": batch, "x": float_pointer(ffi, x), "target": float_pointer(ffi, target),
                "lr": opt.lr, "beta1": opt.betas[0], "beta2": opt.betas[1]}), x, target)
        return chunks[batch, cols]

    def fill_chunk(self, chunk, data: torch.Tensor, inputs: torch.Tensor | None, rows: torch.Tensor) -> None:
        """Point a run at its data, inputs and row indices ((steps, b) int64, contiguous; kept alive by the caller);
        its first step is the optimiser's next."""
        ffi = self.native.ffi
        chunk.data, chunk.inputs = float_pointer(ffi, data), float_pointer(ffi, inputs)
        chunk.rows, chunk.steps, chunk.first_step = ffi.cast("int64_t *", rows.data_ptr()), rows.shape[0], self.optimizer.steps + 1

    @staticmethod
    def load_native(what: str) -> library.Native:
        """The compiled module, or an EngineError naming the step (`what`) and why the module is not here."""
        native = library.load()
        if native is None:
            raise EngineError(f"{what}: not available here ({library.unavailable_reason()})")
        return native


def share_rows(batch: int, threads: int) -> list[tuple[int, int]]:
    """(first row, rows) of each share of a batch: the whole batch, or with two threads and b ≥ 2 two halves
    (the first one row longer when b is odd), each computed on its own core into its own gradient buffer."""
    cut = (batch + 1) // 2 if threads == 2 and batch >= 2 else batch
    return [(0, cut)] + ([(cut, batch - cut)] if cut < batch else [])


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


class CompiledDenseStep(CompiledStep):
    """The `Step` of a `DenseAutoencoder` trained on BCE from logits (+ optional L1 on the code).

    Call with (target (b, D), inputs (b, D)); returns (loss, parts) as Python floats.
    """

    def __init__(self, model: nn.Module, objective, learning_rate: float, threads: int = 1, batch_size: int | None = None,
                 split: str | None = None):
        if type(model) is not DenseAutoencoder:
            raise EngineError(f"compiled step: model {type(model).__name__} is not one it computes; expected "
                              "DenseAutoencoder (use engine 'autograd' for others)")
        self.l1, self.l1_reduction = l1_terms(objective)
        self.native = self.load_native("compiled step")
        if threads not in (1, 2):
            raise EngineError(f"compiled step: threads {threads!r}: expected 1 or 2")
        self.model, self.objective, self.threads = model, objective, threads
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
        self.grads = [torch.zeros_like(flat) for _ in range(shares)]  # one gradient buffer per share of the batch's rows
        self.optimizer = FlatAdam(self.native, flat, self.grads[0], learning_rate, grad2=self.grads[1] if shares == 2 else None)
        self.net = self.model_struct()
        self.plans: dict = {}  # batch size → its shares or split plan; ("chunk", batch size) → a run of steps' plan

    def describe(self) -> dict:
        return {**super().describe(), **({"split": self.split} if self.split else {})}

    def model_struct(self):
        """aelab_dense_model for this model: its widths and the parameters' storage (views of the flat buffer)."""
        ffi, layers = self.native.ffi, self.layers
        widths = [layers[0].in_features] + [layer.out_features for layer in layers]
        return ffi.new("aelab_dense_model *", {
            "sgemm": self.native.sgemm, "layers": len(layers), "code_layer": self.code_layer, "widths": widths,
            "weights": [float_pointer(ffi, layer.weight) for layer in layers],
            "biases": [float_pointer(ffi, layer.bias) for layer in layers]})

    def work_struct(self, rows: int, grad: torch.Tensor | None) -> tuple[object, list[torch.Tensor]]:
        """aelab_dense_work for `rows` rows: fresh activation buffers and, with `grad`, gradient views
        into it in the parameters' layouts (the flat buffer's offsets). Returns (struct, tensors to keep)."""
        ffi, flat = self.native.ffi, self.optimizer.flat
        acts = [torch.empty(rows, layer.out_features) for layer in self.layers]
        deltas = [torch.empty(rows, layer.out_features) for layer in self.layers]
        fields = {"capacity": rows, "acts": [float_pointer(ffi, a) for a in acts],
                  "grads": [float_pointer(ffi, d) for d in deltas]}
        if grad is not None:
            offset = lambda p: (p.data_ptr() - flat.data_ptr()) // flat.element_size()  # noqa: E731
            fields["weight_grads"] = [float_pointer(ffi, grad, offset(layer.weight)) for layer in self.layers]
            fields["bias_grads"] = [float_pointer(ffi, grad, offset(layer.bias)) for layer in self.layers]
        return ffi.new("aelab_dense_work *", fields), acts + deltas

    def plan(self, batch: int) -> list[tuple]:
        """Per share of a batch of this size (one, or two halves when two threads are set and b ≥ 2):
        (work, batch struct, sums, first row, kept tensors); built once per batch size."""
        if batch not in self.plans:
            ffi = self.native.ffi
            shares = share_rows(batch, self.threads)
            plans = []
            for k, (first, rows) in enumerate(shares):
                work, kept = self.work_struct(rows, self.grads[k])
                plans.append((work, ffi.new("aelab_batch *", self.batch_fields(batch, rows)), ffi.new("aelab_sums *"), first,
                              kept))
            self.plans[batch] = plans
        return self.plans[batch]

    def batch_fields(self, batch: int, rows: int) -> dict:
        """aelab_batch's factors for `rows` rows of a batch of `batch`: the whole batch's mean-BCE scale (E2) and L1
        gradient (E6)."""
        add = (self.l1 / batch if self.l1_reduction == "mean" else self.l1) if self.l1 > 0 else 0.0  # (E6)
        return {"rows": rows, "scale": 1.0 / (batch * self.layers[-1].out_features), "l1_add": add}  # (E2)

    def split_plan(self, batch: int) -> tuple:
        """(aelab_split_work, aelab_batch, two aelab_sums, kept tensors) for a whole batch split by columns."""
        if batch not in self.plans:
            ffi = self.native.ffi
            acts = [torch.empty(batch, layer.out_features) for layer in self.layers]
            deltas = [torch.empty(batch, layer.out_features) for layer in self.layers]
            partials = [torch.empty(batch, max(layer.in_features for layer in self.layers)) for _ in range(4)]
            blocks = [torch.empty(self.native.lib.AELAB_GRADIENT_BLOCK) for _ in range(2)]
            work = ffi.new("aelab_split_work *", {"capacity": batch, "acts": [float_pointer(ffi, a) for a in acts],
                                                  "grads": [float_pointer(ffi, d) for d in deltas],
                                                  "partials": [float_pointer(ffi, p) for p in partials],
                                                  "blocks": [float_pointer(ffi, b) for b in blocks]})
            self.plans[batch] = (work, ffi.new("aelab_batch *", self.batch_fields(batch, batch)), ffi.new("aelab_sums[2]"),
                                 acts + deltas + partials + blocks)
        return self.plans[batch]

    @staticmethod
    def point(ffi, share: tuple, x: torch.Tensor, target: torch.Tensor) -> None:
        """Point a share's batch struct at its rows of this step's inputs and targets."""
        _, batch, _, first, _ = share
        batch.x, batch.target = float_pointer(ffi, x, first * x.shape[1]), float_pointer(ffi, target, first * target.shape[1])

    @torch.no_grad()
    def __call__(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[float, dict[str, float]]:
        target, x = target.contiguous(), inputs.contiguous()
        lib, ffi, opt, rows = self.native.lib, self.native.ffi, self.optimizer, target.shape[0]
        opt.advance()
        if self.split == "columns":
            work, batch, sums, _ = self.split_plan(rows)
            batch.x, batch.target = float_pointer(ffi, x), float_pointer(ffi, target)
            lib.aelab_dense_step_split(self.net, work, batch, sums + 0, sums + 1, opt.buffers[False], opt.scalars)
            return self.result((sums[0].bce + sums[1].bce) / target.numel(), sums[0].code_sum + sums[1].code_sum, rows)
        shares = self.plan(rows)
        for share in shares:
            self.point(ffi, share, x, target)
        if len(shares) == 1:
            work, batch, sums, _, _ = shares[0]
            lib.aelab_dense_gradient(self.net, work, batch, sums)
            opt.update(0, opt.flat.numel())
        else:  # both halves of the batch at once, then Adam in halves adding both gradients (kernels.c's helper thread)
            lib.aelab_dense_step_pair(self.net, *shares[0][:3], *shares[1][:3], opt.buffers[True], opt.scalars)
        bce = sum(share[2].bce for share in shares) / target.numel()
        return self.result(bce, sum(share[2].code_sum for share in shares), rows)

    @torch.no_grad()
    def run_steps(self, data: torch.Tensor, inputs: torch.Tensor | None, rows: torch.Tensor,
                  should_stop=lambda: False) -> list[tuple[float, dict[str, float]]]:
        """Every step of `rows` ((steps, b) indices into `data`) in one compiled call (`aelab_dense_steps`): the rows
        gathered and Adam's bias corrections set in C, with the arithmetic of `__call__`, so that the result equals the
        same steps taken one by one, bit for bit. All of them run: `should_stop` is for steps that stop between batches."""
        if not self.in_memory(data, inputs):
            return super().run_steps(data, inputs, rows, should_stop)
        steps, batch = rows.shape
        ffi, opt = self.native.ffi, self.optimizer
        plan = self.chunk_plan(batch)
        chunk, x, target = self.chunk_struct(batch, data.shape[1])
        self.point_chunk(plan, x, x if inputs is None else target)
        rows = rows.contiguous()
        self.fill_chunk(chunk, data, inputs, rows)
        sums = ffi.new("double[]", 2 * steps)  # Σ BCE, then Σ code, per step
        chunk.bce, chunk.code_sum = sums, sums + steps
        self.native.lib.aelab_dense_steps(self.net, plan, opt.buffers[plan.mode == 1], opt.scalars, chunk)  # 1: by rows
        opt.steps += steps
        values = batch * data.shape[1]
        return [self.result(sums[s] / values, sums[steps + s], batch) for s in range(steps)]

    def chunk_plan(self, batch: int):
        """The aelab_dense_plan of runs of steps of this batch size: the mode and the structs its call takes."""
        key = ("chunk", batch)
        if key not in self.plans:
            ffi = self.native.ffi
            sums = ffi.new("aelab_sums[2]")
            if self.split == "columns":
                work, whole, _, _ = self.split_plan(batch)
                fields = {"mode": 2, "split": work, "whole": whole}
            else:  # one thread, or by rows: the shares say which (a batch of one row has no halves)
                shares = self.plan(batch)
                empty = [ffi.NULL] * (2 - len(shares))
                fields = {"mode": len(shares) - 1, "work": [share[0] for share in shares] + empty,  # 0: one thread, 1: by rows
                          "batch": [share[1] for share in shares] + empty}
            # the structs the plan points at stay in self.plans
            self.plans[key] = (ffi.new("aelab_dense_plan *", {**fields, "sums": sums}), sums)
        return self.plans[key][0]

    def point_chunk(self, plan, x: torch.Tensor, target: torch.Tensor) -> None:
        """Point the plan's batch structs at the gather buffers (the per-step calls point them at each batch)."""
        ffi = self.native.ffi
        if self.split == "columns":
            plan.whole.x, plan.whole.target = float_pointer(ffi, x), float_pointer(ffi, target)
            return
        for share in self.plan(x.shape[0]):
            self.point(ffi, share, x, target)

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
            clean, x = target[start:start + batch_size].contiguous(), inputs[start:start + batch_size].contiguous()
            batch.x, batch.target, batch.rows = float_pointer(ffi, x), float_pointer(ffi, clean), len(clean)
            self.native.lib.aelab_dense_loss(self.net, work, batch, sums)
            loss, _ = self.result(sums.bce / clean.numel(), sums.code_sum, len(clean))
            total += loss * len(clean)
        del kept
        return total / len(target)
