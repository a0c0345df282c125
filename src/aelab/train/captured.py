"""Steps on a GPU: the autograd step, and on CUDA the same step captured once as a CUDA graph.

The compiled engine (train/compiled/dense.py) is plain C on CPU memory, so on a GPU the autograd step runs and
its `describe()` says why. For the small dense models at batch 32 a GPU step is bound by launch
latency — a deep model's step is ~40 kernel launches of a few microseconds of arithmetic each — so on
CUDA the whole step (forward, loss, backward, Adam) is recorded once as a CUDA graph and replayed for
every batch of the recorded shape (PyTorch's "whole network capture" recipe, torch.cuda.graphs):
one launch per step instead of dozens. We capture with torch.cuda.CUDAGraph directly, not
torch.compile(mode="reduce-overhead"): same graph replay, without a Triton toolchain or compile time.

How the recording is used is the same on every device (`CapturedStep`); what records is a parameter:
`CudaGraphRecording` on CUDA, `EagerRecording` (each replay runs the step again) on the CPU, where
the tests check the bookkeeping — static buffers, the warm-up steps, batches of another shape run
eagerly — against the plain autograd step, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from aelab.models.variational import VariationalAutoencoder
from aelab.train.step import AutogradStep, adam

WARM_UP_STEPS = 3  # eager steps before capture, as PyTorch's recipe: cuBLAS handles, autograd's and Adam's state made
CPU_ONLY = "the compiled step runs on the CPU only; on {device} the autograd step runs"
CAPTURED = CPU_ONLY + ", its whole step captured once as a CUDA graph and replayed per batch"
NOT_CAPTURED = (
    CPU_ONLY + " uncaptured: a variational model draws its ε from a CPU generator every step, which a "
    "CUDA graph cannot replay"
)


class CudaGraphRecording:
    """One step recorded as a CUDA graph: `replay()` runs it again on the same (static) tensors."""

    capturable = True  # Adam keeps its step counts on the GPU, so the graph updates them

    def __init__(self, step: Callable[[], tuple]):
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: `aelab run` trains two steps at once on worker threads; the other's CUDA calls may go on
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):  # records without running: `outputs`
            self.outputs = step()  # hold values after a replay

    def replay(self) -> None:
        self.graph.replay()

    @staticmethod
    def eager(step: Callable[[], tuple]) -> tuple:
        """An uncaptured step, on a side stream as the recipe warms up (capture must not see its lazy set-up)."""
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            outputs = step()
        torch.cuda.current_stream().wait_stream(stream)
        return outputs


class EagerRecording:
    """The CPU's stand-in for a CUDA graph: recording runs nothing, each `replay()` runs the step."""

    capturable = False  # Adam's capturable mode needs a GPU

    def __init__(self, step: Callable[[], tuple]):
        self.step, self.outputs = step, None

    def replay(self) -> None:
        self.outputs = self.step()

    @staticmethod
    def eager(step: Callable[[], tuple]) -> tuple:
        return step()


class CapturedStep(AutogradStep):
    """The autograd step, recorded once for the first batch shape it sees and replayed for every batch of that shape.

    Batches are copied into static tensors the recording reads; a batch of another shape (an epoch's
    last, shorter one) and the first WARM_UP_STEPS run eagerly on the same parameters and optimiser.
    Gradients are zeroed in place, never freed: the recording holds their addresses. The returned loss
    and parts are the recording's tensors, overwritten by the next replay (the trainer reads them at once).
    """

    keep_gradients = True

    def __init__(
        self,
        model: nn.Module,
        objective,
        learning_rate: float,
        recording=CudaGraphRecording,
        fallback_reason: str | None = None,
        device: torch.device | None = None,
    ):
        super().__init__(model, objective, learning_rate, fallback_reason, device)
        self.optimizer = adam(model, learning_rate, capturable=recording.capturable)
        self.recording_kind, self.recording = recording, None
        self.shape: tuple | None = None  # the batch shape recorded (the first seen)
        self.static_target = self.static_inputs = None
        self.eager_steps = 0

    def __call__(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[torch.Tensor, dict]:
        self.shape = self.shape or (tuple(target.shape), tuple(inputs.shape))
        if (tuple(target.shape), tuple(inputs.shape)) != self.shape or (
            self.recording is None and self.eager_steps < WARM_UP_STEPS
        ):
            self.eager_steps += 1
            return self.recording_kind.eager(lambda: AutogradStep.__call__(self, target, inputs))
        if self.recording is None:
            self.static_target, self.static_inputs = target.clone(), inputs.clone()
            self.recording = self.recording_kind(
                lambda: AutogradStep.__call__(self, self.static_target, self.static_inputs)
            )
        self.static_target.copy_(target)
        self.static_inputs.copy_(inputs)
        self.recording.replay()
        return self.recording.outputs

    @contextmanager
    def running(self) -> Iterator[None]:
        """One recording per `Trainer.fit`: after it the model goes back to the CPU and its GPU addresses are gone."""
        try:
            yield
        finally:
            self.recording = self.static_target = self.static_inputs = self.shape = None
            self.eager_steps = 0

    def describe(self) -> dict:
        return {**super().describe(), "capture": "cuda-graph" if self.recording_kind.capturable else "eager-replay"}


def device_step(engine: str, model: nn.Module, objective, learning_rate: float, device: torch.device) -> AutogradStep:
    """The step for a GPU: autograd as asked, or for the compiled engine autograd captured on CUDA;
    a variational model (CPU-drawn noise) and MPS (no graphs) run uncaptured. The reason goes in config.json."""
    if engine == "autograd":
        return AutogradStep(model, objective, learning_rate, device=device)
    if device.type != "cuda":
        return AutogradStep(model, objective, learning_rate, CPU_ONLY.format(device=device.type), device)
    if isinstance(model, VariationalAutoencoder):
        return AutogradStep(model, objective, learning_rate, NOT_CAPTURED.format(device=device.type), device)
    return CapturedStep(
        model, objective, learning_rate, CudaGraphRecording, CAPTURED.format(device=device.type), device
    )
