"""The memory layout of the convolutional models: channels-last (NHWC), the layout oneDNN computes in.

PyTorch's CPU convolutions (and transposed convolutions) run on oneDNN. Given the default NCHW
tensors, every convolution and each of its two backward products first reorders its operands into
oneDNN's layout and its result back; given channels-last tensors and weights it computes in place.
Chosen by alternated comparisons of CPU time (training and inference both faster); benchmarks/bench_families.py
measures it ("torch loop", NCHW, against "torch loop, channels-last", which also has the in-place ReLUs). The
values are the same convolutions summed in another order: equal within float rounding (tests/test_conv_speed.py),
not bit for bit.

Only the layout changes: parameter names, shapes and values, the code's order (flattened NCHW, as
figures and saved runs read it) and the rows in and out stay what they were.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

LAYOUT = torch.channels_last
_maps_layout: ContextVar[torch.memory_format] = ContextVar("aelab_maps_layout", default=LAYOUT)


def channels_last(module: nn.Module) -> nn.Module:
    """`module` with its 4-D parameters (convolution kernels) stored channels-last; 2-D ones untouched."""
    return module.to(memory_format=LAYOUT)


def as_maps(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Flat rows or maps → (batch, C, H, W) feature maps stored channels-last (a copy unless already so)."""
    return x.reshape(-1, *shape).contiguous(
        memory_format=_maps_layout.get()
    )  # (b, C·H·W) → (b, C, H, W), NHWC in memory


@contextmanager
def default_layout(module: nn.Module) -> Iterator[nn.Module]:
    """`with default_layout(model) as plain:` — a copy of `model` in PyTorch's default (NCHW) layout, whose feature
    maps stay NCHW inside the block, so each reshape between flat rows and maps is a view of the same storage.

    For the explorer's tracer (explorer/trace.py), which follows a result back to the input through the storage each
    layer reads and writes: a channels-last copy breaks that path, the values are the same either way.
    """
    token = _maps_layout.set(torch.contiguous_format)
    try:
        yield copy.deepcopy(module).to(memory_format=torch.contiguous_format)
    finally:
        _maps_layout.reset(token)
