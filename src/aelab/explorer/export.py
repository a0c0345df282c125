"""A trained model as a list of layers the page's JavaScript runs: one dict per layer, weights as base64 float32.

Why a list of typed layers rather than "a dense autoencoder with these matrices": the page's
interpreter (explorer.js, `LAYERS`) dispatches on each layer's "type", so another family is another
entry there and here (a convolution, a VAE's mean head), not a second code path. Only the layers
the dense families are made of are exported today; anything else is refused by name.

Weights travel as little-endian float32 bytes in base64: exactly the numbers PyTorch computes with,
a third of the size of decimal text, and read in the page with one `Float32Array` view.
"""

from __future__ import annotations

import base64
from typing import Callable

import numpy as np
import torch
from torch import nn

from aelab.errors import ConfigError

Layer = dict  # {"type": ..., and its operands}


def float32_base64(values: np.ndarray | torch.Tensor) -> str:
    """Values, row-major, as base64 of little-endian float32 bytes (what a JavaScript Float32Array reads)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def dense_layer(layer: nn.Linear) -> Layer:
    """y = W x + b with W of shape (out, in), row-major (torch.nn.Linear's convention)."""
    return {"type": "dense", "in": layer.in_features, "out": layer.out_features,
            "weight": float32_base64(layer.weight), "bias": float32_base64(layer.bias)}


def relu_layer(layer: nn.ReLU) -> Layer:
    return {"type": "relu"}


def sigmoid_layer(layer: nn.Sigmoid) -> Layer:
    return {"type": "sigmoid"}


EXPORTERS: dict[type, Callable[[nn.Module], Layer]] = {nn.Linear: dense_layer, nn.ReLU: relu_layer, nn.Sigmoid: sigmoid_layer}


def export_stack(stack: nn.Module, where: str) -> list[Layer]:
    """The layers of an nn.Sequential, in order; a layer with no exporter is refused by name."""
    layers = []
    for name, module in stack.named_children():
        exporter = EXPORTERS.get(type(module))
        if exporter is None:
            raise ConfigError(f"{where} layer {name} ({type(module).__name__}): the explorer runs "
                              f"{', '.join(t.__name__ for t in EXPORTERS)} layers only (dense models)")
        layers.append(exporter(module))
    return layers


def export_model(model: nn.Module) -> dict:
    """{"encoder": layers, "decoder": layers}: x → code, and code → pixels in [0, 1].

    The models return logits (the loss applies the sigmoid, models/dense.py), so the exported
    decoder ends in a sigmoid: the page shows pixels, as `model.reconstruct` gives them.
    """
    encoder, decoder = getattr(model, "encoder", None), getattr(model, "decoder", None)
    if not isinstance(encoder, nn.Sequential) or not isinstance(decoder, nn.Sequential):
        raise ConfigError(f"model {type(model).__name__}: expected an autoencoder with encoder and decoder layer "
                          "stacks (the dense families: shallow, deep, denoising, sparse)")
    return {"encoder": export_stack(encoder, "encoder"),
            "decoder": export_stack(decoder, "decoder") + [sigmoid_layer(nn.Sigmoid())]}
