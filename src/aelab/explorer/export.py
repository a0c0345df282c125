"""A trained model as a list of layers the page's JavaScript runs: one dict per layer, weights as base64 float32.

Why a list of typed layers rather than "a dense autoencoder with these matrices": the page's
interpreter (explorer.js, `LAYERS`) dispatches on each layer's "type", so another family is another
entry there and here (a convolution, a pooling), not a second code path.

Which layers, in which order: those the model's own `encode` and `decode` run, traced (trace.py),
so a VAE's encoder ends in its mean head (the page decodes the mean code, as `model.reconstruct`
does) and its log-variance head, which the mean never passes through, is left out. Layers that only
reshape (Flatten, Identity) are dropped: the page keeps every tensor flat, in PyTorch's row-major
(C, H, W) order, so a reshape changes nothing there. Spatial layers carry their traced input and
output shapes, so the page needs no shape arithmetic of its own.

Weights travel as little-endian float32 bytes in base64: exactly the numbers PyTorch computes with,
a third of the size of decimal text, and read in the page with one `Float32Array` view.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from aelab.errors import ConfigError
from aelab.explorer.trace import traced_layers
from aelab.models.layout import default_layout

Layer = dict  # {"type": ..., and its operands}
Shape = tuple[int, ...]  # one sample's shape, no batch dimension


def float32_base64(values: np.ndarray | torch.Tensor) -> str:
    """Values, row-major, as base64 of little-endian float32 bytes (what a JavaScript Float32Array reads)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def dense_layer(layer: nn.Linear, in_shape: Shape, out_shape: Shape) -> Layer:
    """y = W x + b with W of shape (out, in), row-major (torch.nn.Linear's convention)."""
    return {
        "type": "dense",
        "in": layer.in_features,
        "out": layer.out_features,
        "weight": float32_base64(layer.weight),
        "bias": float32_base64(layer.bias),
    }


def relu_layer(layer: nn.ReLU, in_shape: Shape, out_shape: Shape) -> Layer:
    return {"type": "relu"}


def sigmoid_layer(layer: nn.Sigmoid | None = None, in_shape: Shape = (), out_shape: Shape = ()) -> Layer:
    return {"type": "sigmoid"}


def reshape_only(layer: nn.Module, in_shape: Shape, out_shape: Shape) -> None:
    """Flatten, Identity: the same values in the same row-major order; nothing for the page to do."""
    return None


def spatial(layer: nn.Module, in_shape: Shape, out_shape: Shape) -> Layer:
    """What every 2-D layer states: its (C, H, W) in and out, kernel, stride and padding as (rows, columns) pairs."""
    pair = lambda v: [int(v), int(v)] if isinstance(v, int) else [int(n) for n in v]  # noqa: E731
    if (
        len(in_shape) != 3
        or not isinstance(layer.padding, (int, tuple))
        or pair(getattr(layer, "dilation", 1)) != [1, 1]
    ):
        raise ConfigError(
            f"layer {type(layer).__name__} on input {tuple(in_shape)}: the explorer runs 2-D layers on "
            "(C, H, W) inputs with numeric padding and no dilation only"
        )
    return {
        "in_shape": list(in_shape),
        "out_shape": list(out_shape),
        "kernel": pair(layer.kernel_size),
        "stride": pair(layer.stride),
        "padding": pair(layer.padding),
    }


def convolution(layer: nn.Conv2d | nn.ConvTranspose2d, in_shape: Shape, out_shape: Shape, kind: str) -> Layer:
    if layer.groups != 1 or layer.padding_mode != "zeros" or layer.bias is None:
        raise ConfigError(
            f"layer {type(layer).__name__}: the explorer runs convolutions with one group, zero padding and a bias only"
        )
    return {
        "type": kind,
        **spatial(layer, in_shape, out_shape),
        "weight": float32_base64(layer.weight),
        "bias": float32_base64(layer.bias),
    }


def conv2d_layer(layer: nn.Conv2d, in_shape: Shape, out_shape: Shape) -> Layer:
    """Cross-correlation, weight (out, in, kh, kw): torch.nn.Conv2d."""
    return convolution(layer, in_shape, out_shape, "conv2d")


def conv_transpose2d_layer(layer: nn.ConvTranspose2d, in_shape: Shape, out_shape: Shape) -> Layer:
    """The transposed convolution, weight (in, out, kh, kw); output_padding shows in the traced out_shape."""
    return convolution(layer, in_shape, out_shape, "conv_transpose2d")


def max_pool2d_layer(layer: nn.MaxPool2d, in_shape: Shape, out_shape: Shape) -> Layer:
    if layer.ceil_mode or layer.return_indices:
        raise ConfigError("layer MaxPool2d: the explorer runs max pooling without ceil_mode or indices only")
    return {"type": "max_pool2d", **spatial(layer, in_shape, out_shape)}


EXPORTERS: dict[type, Callable[[nn.Module, Shape, Shape], Layer | None]] = {
    nn.Linear: dense_layer,
    nn.ReLU: relu_layer,
    nn.Sigmoid: sigmoid_layer,
    nn.Conv2d: conv2d_layer,
    nn.ConvTranspose2d: conv_transpose2d_layer,
    nn.MaxPool2d: max_pool2d_layer,
    nn.Flatten: reshape_only,
    nn.Identity: reshape_only,
}


def export_layers(
    model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], in_shape: Shape, where: str
) -> list[Layer]:
    """The layers `run` (the model's encode or decode) takes one sample of `in_shape` through; an unknown one is
    refused."""
    layers = []
    for name, module, layer_in, layer_out in traced_layers(model, run, in_shape, where):
        exporter = EXPORTERS.get(type(module))
        if exporter is None:
            raise ConfigError(
                f"{where} layer {name} ({type(module).__name__}): the explorer runs "
                f"{', '.join(t.__name__ for t in EXPORTERS)} layers only"
            )
        layer = exporter(module, layer_in, layer_out)
        if layer is not None:
            layers.append(layer)
    return layers


def export_model(model: nn.Module, loss: str | None = None) -> dict:
    """{"encoder": layers, "decoder": layers, "sample_shape", "code_size"}: x → code, and code → the reconstruction.

    The models return logits (the loss applies the sigmoid, objectives.output_of), so for BCE the
    exported decoder ends in a sigmoid: the page shows pixels, as `model.reconstruct` gives them.
    Trained with MSE (your own scaled data), the decoder's output is the reconstruction itself.
    """
    if not all(callable(getattr(model, part, None)) for part in ("encode", "decode")):
        raise ConfigError(f"model {type(model).__name__}: expected an autoencoder with encode and decode")
    n_features, code_size = int(model.n_features), int(model.code_size)
    sample_shape = tuple(getattr(model, "sample_shape", (n_features,)))  # dense models: flat rows
    with default_layout(model) as plain:  # the conv models' NCHW copy: its reshapes are views the tracer follows
        encoder = export_layers(plain, plain.encode, (n_features,), "encoder")  # every model takes flat rows
        decoder = export_layers(plain, plain.decode, (code_size,), "decoder")
    return {
        "encoder": encoder,
        "decoder": decoder + ([] if loss == "mse" else [sigmoid_layer()]),
        "sample_shape": list(sample_shape),
        "code_size": code_size,
    }
