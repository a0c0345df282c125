"""Which layers a model's `encode` or `decode` runs, in order, found by running it once on zeros.

Why trace rather than read `model.encoder`: what a family's encode does is written in its forward
code, not in its attributes — a VAE's code is its mean head applied after the encoder stack (and
its log-variance head, also run, is not on the code's path); a convolutional model reshapes between
stacks. Running the method with a forward hook on every leaf module records each call's input and
output; walking back from the result, each tensor's producer is the latest call whose output shares
its storage (a view such as Flatten or `.view` shares it), until the input is reached. Calls off that
path (the log-variance head) are left out; a result not reached from the input is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from aelab.errors import ConfigError


class Call(NamedTuple):
    """One leaf module's call: its name in the model, the module, its input and output (batch of one)."""

    name: str
    module: nn.Module
    input: torch.Tensor
    output: torch.Tensor


def storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def recorded_calls(
    model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[list[Call], torch.Tensor]:
    """Every leaf module call `run(x)` makes, in order, and its result. The tensors are all kept alive,
    so no storage is freed and reused while the path is followed."""
    calls: list[Call] = []
    hooks = [
        module.register_forward_hook(lambda m, args, out, name=name: calls.append(Call(name, m, args[0], out)))
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    try:
        with torch.no_grad():
            result = run(x)
    finally:
        for hook in hooks:
            hook.remove()
    return calls, result


def traced_layers(
    model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], in_shape: tuple[int, ...], where: str
) -> list[tuple[str, nn.Module, tuple[int, ...], tuple[int, ...]]]:
    """(name, module, input shape, output shape) of each layer on the path from one input of `in_shape` to `run`'s
    result."""
    x = torch.zeros((1, *in_shape))
    calls, result = recorded_calls(model, run, x)
    path, current = [], storage(result)
    for call in reversed(calls):
        if current == storage(x):
            break
        if storage(call.output) == current:
            path.append((call.name, call.module, tuple(call.input.shape[1:]), tuple(call.output.shape[1:])))
            current = storage(call.input)
    if current != storage(x):
        raise ConfigError(
            f"model {type(model).__name__}: its {where} is not a chain of layers from input to output "
            "(expected encode and decode made of layer modules only)"
        )
    return path[::-1]
