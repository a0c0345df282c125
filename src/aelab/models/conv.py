"""The convolutional autoencoder of the Keras example "Convolutional autoencoder for image denoising".

    encoder: Conv2D(32, 3×3, ReLU, same) → MaxPool(2) → Conv2D(32, 3×3, ReLU, same) → MaxPool(2)
             (C, H, W) → (32, H/2, W/2) → (32, H/4, W/4): the code, 7×7×32 for MNIST
    decoder: ConvTranspose(32, 3×3, stride 2, ReLU, same) ×2 → Conv2D(C, 3×3, same) → logits (sigmoid gives pixels)

28,353 parameters for one 28×28 channel, as the example's summary prints. Any channel count and any
H, W divisible by 4 (two poolings) work. The model takes and returns flat rows (batch, C·H·W), as every
aelab model does, and reshapes inside; the code is flattened to (batch, 32·H/4·W/4) so that objectives
(L1 on the code) and metrics treat it as any other code.

Layers are initialised as Keras' (Glorot uniform kernels, zero biases: `glorot_uniform`, Glorot & Bengio
2010, eq. 16, is Keras' default kernel initializer). One difference from TensorFlow, on purpose: PyTorch
pads a stride-2 "same" transposed convolution symmetrically (padding 1, output padding 1) where
TensorFlow pads only after; the layer sizes and parameter counts are equal, the pixel alignment of the
upsampling differs by one row/column.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aelab.errors import ConfigError
from aelab.models.dense import EncoderDecoder
from aelab.models.layout import as_maps, channels_last

FILTERS = 32  # the Keras example's filters in every layer


def keras_init(layer: nn.Module, generator: torch.Generator | None) -> nn.Module:
    """Glorot-uniform kernel, zero bias: Keras' defaults (Glorot & Bengio 2010, eq. 16).

    For a transposed convolution PyTorch's weight is (in, out, kh, kw), so its fan in and fan out swap
    against Keras'; the Glorot bound √(6 / (fan_in + fan_out)) is symmetric in them, so it is the same.
    """
    nn.init.xavier_uniform_(layer.weight, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def conv(c_in: int, c_out: int, generator, stride: int = 1) -> nn.Conv2d:
    """3×3 convolution with "same" padding (stride 2 halves H and W)."""
    return keras_init(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), generator)


def up_conv(c_in: int, c_out: int, generator, stride: int = 2) -> nn.ConvTranspose2d:
    """3×3 transposed convolution, "same": stride 2 doubles H and W, stride 1 keeps them."""
    return keras_init(
        nn.ConvTranspose2d(c_in, c_out, 3, stride=stride, padding=1, output_padding=stride - 1), generator
    )


def relu() -> nn.ReLU:
    """ReLU written over its input: every ReLU here follows a convolution or a dense layer, whose backward reads its
    input and weight, never its output, so the output's memory can take the activation: one pass over memory and
    one allocation less per ReLU, the same bits (tests/test_conv_speed.py)."""
    return nn.ReLU(inplace=True)


def check_sample_shape(sample_shape: tuple[int, ...], model: str) -> tuple[int, int, int]:
    """(C, H, W) with H and W divisible by 4, or a ConfigError naming the shape."""
    if len(sample_shape) != 3 or sample_shape[1] % 4 or sample_shape[2] % 4 or min(sample_shape) < 1:
        raise ConfigError(
            f"--model {model}: sample shape {tuple(sample_shape)}: expected images (C, H, W) with H and W "
            "divisible by 4 (the convolutional models halve them twice)"
        )
    return tuple(sample_shape)


class ConvAutoencoder(EncoderDecoder):
    """The Keras example's convolutional autoencoder for images of shape `sample_shape` (C, H, W)."""

    def __init__(self, sample_shape: tuple[int, int, int], generator: torch.Generator | None = None):
        super().__init__()
        self.sample_shape = c, h, w = check_sample_shape(sample_shape, "conv")
        self.n_features, self.code_size = math.prod(sample_shape), FILTERS * (h // 4) * (w // 4)
        self.encoder = nn.Sequential(
            conv(c, FILTERS, generator),
            relu(),
            nn.MaxPool2d(2),
            conv(FILTERS, FILTERS, generator),
            relu(),
            nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            up_conv(FILTERS, FILTERS, generator),
            relu(),
            up_conv(FILTERS, FILTERS, generator),
            relu(),
            conv(FILTERS, c, generator),
        )  # logits; the example's sigmoid is in the loss
        channels_last(self)  # oneDNN's layout: no reorders around each convolution (models/layout.py)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, C·H·W) in [0, 1] → code (batch, 32·H/4·W/4), non-negative."""
        return self.encoder(as_maps(x, self.sample_shape)).flatten(
            1
        )  # (b, C, H, W) → (b, 32, H/4, W/4) → flat (NCHW order)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """code (batch, 32·H/4·W/4) → logits (batch, C·H·W)."""
        _, h, w = self.sample_shape
        return self.decoder(as_maps(code, (FILTERS, h // 4, w // 4))).flatten(
            1
        )  # (b, 32, H/4, W/4) → (b, C, H, W) → flat

    def first_layer_weights(self) -> torch.Tensor:
        """The first convolution's kernels (32, C, 3, 3): one small image per filter."""
        return self.encoder[0].weight.detach()

    def first_layer_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The first layer's feature maps (batch, 32, H, W) after its ReLU, for a few images."""
        with torch.no_grad():
            return self.encoder[1](self.encoder[0](as_maps(x, self.sample_shape))).contiguous()
