"""What every compiled step shares: one flat parameter buffer with Adam over it, pointers into tensors for the
kernels, a batch's shares (one per thread), runs of steps in one call, and the engine's record.

A compiled step (dense.py, sweep.py, vae.py) supplies only its layout — where each parameter lives in the flat
buffer — and the kernels it calls (native/kernels.c through aelab_kernels.h): `make_shares` (the structs a batch of
one size needs), `take_step` (one step's kernels) and `take_steps` (a run's kernel). Everything else — the caches
of those structs, pointing them at each batch, Adam, the run's gather buffers — is here, once. The formulas are
docs/engine.md's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum

import torch

from aelab.errors import EngineError
from aelab.native import library
from aelab.train.step import Step, torch_threads

MAX_LAYERS = 16  # aelab_kernels.h's AELAB_MAX_LAYERS (`load_native` checks the module agrees)


class ThreadMode(IntEnum):
    """How a step's work is shared between threads, as aelab_kernels.h names it (AELAB_ONE_THREAD, …): the mode
    field of aelab_dense_plan and aelab_vae_plan. `load_native` checks that the built module has the same values."""

    ONE_THREAD = 0
    TWO_BY_ROWS = 1  # each thread computes half the batch's rows into its own gradient buffer
    TWO_BY_COLUMNS = 2  # each thread computes half of every layer's units (a dense step only)


def float_pointer(ffi, tensor: torch.Tensor | None, offset: int = 0):
    """A `float *` into a contiguous float32 tensor's storage (NULL for None); the caller keeps the tensor alive."""
    if tensor is None:
        return ffi.NULL
    return ffi.cast("float *", tensor.data_ptr() + offset * tensor.element_size())


def load_native(what: str) -> library.Native:
    """The compiled module, or an EngineError naming the step (`what`) and why the module is not here.

    The module's constants are checked against their Python mirrors, so that a module built from another
    aelab_kernels.h is refused here rather than misread by a kernel."""
    native = library.load()
    if native is None:
        raise EngineError(f"{what}: not available here ({library.unavailable_reason()})")
    built = {mode.name: getattr(native.lib, f"AELAB_{mode.name}") for mode in ThreadMode}
    if built != {mode.name: mode.value for mode in ThreadMode} or native.lib.AELAB_MAX_LAYERS != MAX_LAYERS:
        raise EngineError(
            f"{what}: the compiled module's constants {built} differ from this aelab's; expected the "
            "module built from its aelab_kernels.h (reinstall the package)"
        )
    return native


def share_rows(batch: int, threads: int) -> list[tuple[int, int]]:
    """(first row, rows) of each share of a batch: the whole batch, or with two threads and b ≥ 2 two halves
    (the first one row longer when b is odd), each computed on its own core into its own gradient buffer."""
    cut = (batch + 1) // 2 if threads == 2 and batch >= 2 else batch
    return [(0, cut)] + ([(cut, batch - cut)] if cut < batch else [])


class FlatAdam:
    """Adam over one flat parameter buffer (docs/engine.md (E5)), with torch.optim.Adam's formulas
    and state_dict layout (one 'param'), so checkpoints of either engine hold the same tensors.

    The gradient is `grad`, plus `grad2` when two threads each computed half a batch. The step count
    is a Python int (no tensor op per step).
    """

    def __init__(
        self,
        native: library.Native,
        flat: torch.Tensor,
        grad: torch.Tensor,
        lr: float,
        grad2: torch.Tensor | None = None,
        betas=(0.9, 0.999),
        eps: float = 1e-7,
    ):
        self.native, self.flat, self.grad, self.grad2 = native, flat, grad, grad2
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)
        self.steps = 0
        ffi = native.ffi
        self.buffers = {
            two: ffi.new(
                "aelab_adam_buffers *",
                {  # two: the buffers that add grad2 (two row shares)
                    "params": float_pointer(ffi, flat),
                    "exp_avg": float_pointer(ffi, self.exp_avg),
                    "exp_avg_sq": float_pointer(ffi, self.exp_avg_sq),
                    "grad": float_pointer(ffi, grad),
                    "grad2": float_pointer(ffi, grad2 if two else None),
                    "size": flat.numel(),
                },
            )
            for two in (False, True)
        }
        self.scalars = ffi.new(
            "aelab_adam_scalars *",
            {
                "beta1": betas[0],
                "beta2": betas[1],
                "one_minus_beta1": 1 - betas[0],
                "one_minus_beta2": 1 - betas[1],
                "eps": eps,
            },
        )

    def advance(self) -> None:
        """Count one step and set its bias corrections (E5): lr/(1 − β1ᵗ) and √(1 − β2ᵗ)."""
        self.steps += 1
        beta1, beta2 = self.betas
        self.scalars.step_size = self.lr / (1 - beta1**self.steps)
        self.scalars.bc2_sqrt = math.sqrt(1 - beta2**self.steps)

    def update(self, start: int, end: int, two_shares: bool = False) -> None:
        """The compiled update of [start, end) with the scalars `advance` set; `two_shares`: add grad2."""
        self.native.lib.aelab_adam(self.buffers[two_shares], start, end, self.scalars)

    def state_dict(self) -> dict:
        return {
            "state": {
                0: {"step": torch.tensor(float(self.steps)), "exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}
            },
            "param_groups": [{"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "params": [0]}],
        }

    def load_state_dict(self, state: dict) -> None:
        slots = state["state"][0]
        if slots["exp_avg"].shape != self.flat.shape:
            raise RuntimeError(
                f"optimiser state of {tuple(slots['exp_avg'].shape)} values, expected {tuple(self.flat.shape)}"
            )
        self.exp_avg.copy_(slots["exp_avg"]), self.exp_avg_sq.copy_(slots["exp_avg_sq"])
        self.steps = int(slots["step"].item())


@dataclass(frozen=True)
class Share:
    """The rows of a batch one thread computes (the whole batch, or one half with two threads), as the kernels
    read them. Built once per batch size: the structs are reused by every step, only their pointers at the
    step's inputs and targets change (`CompiledStep.point`)."""

    work: object  # the share's buffers: aelab_dense_work, aelab_split_work, aelab_vae_work or aelab_sweep
    batch: object  # aelab_batch: its rows, the loss's scale, and pointers at its rows of this step's data
    sums: object  # what its kernel sums over the rows (aelab_sums[n], aelab_vae_sums *, double[2·models])
    first: int  # its first row in the batch
    kept: list  # the tensors and arrays the structs point into, kept alive here
    kl_per_dim: torch.Tensor | None = None  # a VAE's: (k,) float64 Σ over the rows of each dimension's KL (in `sums`)


@dataclass(frozen=True)
class RunPlan:
    """A plan struct of runs of steps of one batch size (aelab_dense_plan, aelab_vae_plan): its mode and the
    shares' structs, pointed once at the run's gather buffers, with what it points into."""

    struct: object
    kept: list


@dataclass(frozen=True)
class Chunk:
    """A run of steps' aelab_chunk and its gather buffers x and target (b, D): the kernel copies each step's rows
    of the data there, so that every share's batch struct points at the same place for the whole run."""

    struct: object
    x: torch.Tensor
    target: torch.Tensor


class CompiledStep(Step):
    """What the compiled steps share: the compiled module, Adam over the flat buffer, the caches of their structs
    (built once per batch size: no allocation per step), a step and a run of steps around the subclass's kernels,
    PyTorch and the BLAS held to one thread per training thread (the steps split work themselves), their record."""

    what = "compiled step"  # how refusals name this step

    def __init__(self, model, objective, threads: int):
        self.native = load_native(self.what)
        self.model, self.objective, self.threads = model, objective, threads
        self.shares: dict[int, list[Share]] = {}  # batch size → its shares
        self.run_plans: dict[int, RunPlan] = {}  # batch size → the plan of runs of steps of that size
        self.chunks: dict[tuple[int, int], Chunk] = {}  # (batch size, columns) → a run's struct and gather buffers

    def one_or_two(self, threads: int) -> int:
        """`threads`, refused unless 1 or 2 (the kernels have one helper thread)."""
        if threads not in (1, 2):
            raise EngineError(f"{self.what}: threads {threads!r}: expected 1 or 2")
        return threads

    def start_adam(self, flat: torch.Tensor, grads: list[torch.Tensor], learning_rate: float) -> None:
        """Adam over `flat`, adding the second gradient buffer when there are two (one per row share)."""
        self.grads = grads
        second = grads[1] if len(grads) == 2 else None
        self.optimizer = FlatAdam(self.native, flat, grads[0], learning_rate, grad2=second)

    # --- what a subclass supplies ---------------------------------------------------------------------------
    def make_shares(self, batch: int) -> list[Share]:
        """The shares of a batch of this size, with every buffer and struct their kernels read."""
        raise NotImplementedError

    def take_step(self, shares: list[Share], batch: int) -> tuple[float, dict]:
        """One step's kernels and Adam, on shares already pointed at the batch (Adam's step counted); returns
        (loss, parts)."""
        raise NotImplementedError

    def take_steps(self, shares: list[Share], chunk: Chunk, steps: int) -> list[tuple[float, dict]]:
        """A run's kernel over `chunk` (filled, its shares pointed at the gather buffers); each step's (loss, parts)."""
        raise NotImplementedError

    def make_run_plan(self, shares: list[Share]) -> RunPlan:
        """The plan struct a run of steps of these shares takes (a dense step's or a VAE's)."""
        raise NotImplementedError

    # --- the caches -----------------------------------------------------------------------------------------
    def plan(self, batch: int) -> list[Share]:
        """The shares of a batch of this size, built on its first step."""
        if batch not in self.shares:
            self.shares[batch] = self.make_shares(batch)
        return self.shares[batch]

    def run_plan(self, batch: int) -> RunPlan:
        """The plan of runs of steps of this batch size, built on its first run (its structs stay in self.shares)."""
        if batch not in self.run_plans:
            self.run_plans[batch] = self.make_run_plan(self.plan(batch))
        return self.run_plans[batch]

    def chunk(self, batch: int, cols: int) -> Chunk:
        """The aelab_chunk and gather buffers of runs of steps of this batch size, made once."""
        if (batch, cols) not in self.chunks:
            ffi, opt = self.native.ffi, self.optimizer
            x, target = torch.empty(batch, cols), torch.empty(batch, cols)
            self.chunks[batch, cols] = Chunk(
                ffi.new(
                    "aelab_chunk *",
                    {
                        "cols": cols,
                        "batch": batch,
                        "x": float_pointer(ffi, x),
                        "target": float_pointer(ffi, target),
                        "lr": opt.lr,
                        "beta1": opt.betas[0],
                        "beta2": opt.betas[1],
                    },
                ),
                x,
                target,
            )
        return self.chunks[batch, cols]

    def mode(self, shares: list[Share]) -> ThreadMode:
        """How the threads share a step of these shares: one share, one thread; two, by rows."""
        return ThreadMode.ONE_THREAD if len(shares) == 1 else ThreadMode.TWO_BY_ROWS

    # --- a step, and a run of steps -------------------------------------------------------------------------
    def point(self, shares: list[Share], x: torch.Tensor, target: torch.Tensor) -> None:
        """Point each share's batch struct at its rows of the model's inputs `x` and the clean `target`."""
        ffi = self.native.ffi
        for share in shares:
            share.batch.x = float_pointer(ffi, x, share.first * x.shape[1])
            share.batch.target = float_pointer(ffi, target, share.first * target.shape[1])

    @torch.no_grad()
    def __call__(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[float, dict]:
        target, x = target.contiguous(), inputs.contiguous()  # kept alive here while the kernels read them
        shares = self.plan(len(target))
        self.point(shares, x, target)
        self.optimizer.advance()
        return self.take_step(shares, len(target))

    @torch.no_grad()
    def run_steps(
        self, data: torch.Tensor, inputs: torch.Tensor | None, rows: torch.Tensor, should_stop=lambda: False
    ) -> list[tuple[float, dict]]:
        """Every step of `rows` ((steps, b) indices into `data`) in one compiled call: the rows gathered and Adam's
        bias corrections set in C, with the arithmetic of `__call__`, so that the result equals the same steps taken
        one by one, bit for bit. All of them run: `should_stop` is for steps that stop between batches."""
        if not self.in_memory(data, inputs):
            return super().run_steps(data, inputs, rows, should_stop)
        steps, batch = rows.shape
        shares, chunk = self.plan(batch), self.chunk(batch, data.shape[1])
        self.point(shares, chunk.x, chunk.x if inputs is None else chunk.target)
        rows = rows.contiguous()  # kept alive here while the kernel reads it
        self.fill_chunk(chunk, data, inputs, rows)
        results = self.take_steps(shares, chunk, steps)
        self.optimizer.steps += steps
        return results

    def fill_chunk(self, chunk: Chunk, data: torch.Tensor, inputs: torch.Tensor | None, rows: torch.Tensor) -> None:
        """Point a run at its data, inputs and row indices ((steps, b) int64, contiguous; kept alive by the caller);
        its first step is the optimiser's next."""
        ffi, struct = self.native.ffi, chunk.struct
        struct.data, struct.inputs = float_pointer(ffi, data), float_pointer(ffi, inputs)
        struct.rows, struct.steps = ffi.cast("int64_t *", rows.data_ptr()), rows.shape[0]
        struct.first_step = self.optimizer.steps + 1

    @staticmethod
    def in_memory(*tensors: torch.Tensor | None) -> bool:
        """Whether a run of steps can read these directly: float32, contiguous, in CPU memory (None: not given)."""
        return all(
            t is None or (t.dtype == torch.float32 and t.is_contiguous() and t.device.type == "cpu") for t in tensors
        )

    # --- the record -----------------------------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator[None]:
        """PyTorch and the BLAS on one thread per training thread while training: the steps split work themselves."""
        with torch_threads(1), self.native.one_blas_thread():
            yield

    def describe(self) -> dict:
        return {"engine": "compiled", "threads": self.threads, **library.describe()}
