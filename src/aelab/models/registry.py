"""Model families by name, each with the study's defaults (epochs) and a builder.

Every builder takes `(sample_shape, code_size, hidden_sizes, generator)`, `sample_shape` being the
images' (C, H, W) ((1, 28, 28) for MNIST): dense families use its product, convolutional ones its shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from aelab.models.conv import ConvAutoencoder
from aelab.models.dense import DenseAutoencoder
from aelab.models.variational import ConvVAE, DenseVAE
from aelab.registries import lookup


@dataclass(frozen=True)
class ModelFamily:
    """How to build one model family and the study's default number of epochs for it."""

    build: Callable[..., nn.Module]  # (sample_shape, code_size, hidden_sizes, generator)
    default_epochs: int
    uses_hidden_sizes: bool
    description: str
    default_noise: str | None = None  # the corruption a denoising family trains with unless told otherwise
    default_l1: float = 0.0  # the L1 weight on the code unless told otherwise
    default_noise_factor: float = 0.2  # the noise factor unless told otherwise
    variational: bool = False  # a Gaussian code trained on the ELBO (objectives.VariationalObjective)
    default_beta: float | None = None  # the KL weight of a variational family unless told otherwise
    uses_code_size: bool = True  # False: the architecture fixes the code (the Keras conv example's 7×7×32)
    convolutional: bool = False  # its weights are reused at every position: its work is not its parameter count


def build_shallow(
    sample_shape: tuple[int, ...], code_size: int, hidden_sizes: tuple[int, ...], generator=None
) -> nn.Module:
    """n_features → code_size → n_features (hidden sizes are ignored)."""
    return DenseAutoencoder(math.prod(sample_shape), code_size, (), generator)


def build_deep(
    sample_shape: tuple[int, ...], code_size: int, hidden_sizes: tuple[int, ...], generator=None
) -> nn.Module:
    """n_features → hidden… → code_size → …hidden → n_features."""
    return DenseAutoencoder(math.prod(sample_shape), code_size, hidden_sizes, generator)


def build_conv(
    sample_shape: tuple[int, ...], code_size: int, hidden_sizes: tuple[int, ...], generator=None
) -> nn.Module:
    """The Keras conv example's model (code size and hidden sizes are fixed by it: ignored)."""
    return ConvAutoencoder(sample_shape, generator)


def build_vae(
    sample_shape: tuple[int, ...], code_size: int, hidden_sizes: tuple[int, ...], generator=None
) -> nn.Module:
    """A dense VAE: n_features → hidden… → Gaussian code → …hidden → n_features."""
    return DenseVAE(math.prod(sample_shape), code_size, hidden_sizes, generator)


def build_conv_vae(
    sample_shape: tuple[int, ...], code_size: int, hidden_sizes: tuple[int, ...], generator=None
) -> nn.Module:
    """The Keras VAE example's model with a code of `code_size` (hidden sizes are fixed by it: ignored)."""
    return ConvVAE(sample_shape, code_size, generator)


MODELS: dict[str, ModelFamily] = {
    "shallow": ModelFamily(
        build=build_shallow,
        default_epochs=5,
        uses_hidden_sizes=False,
        description="784→code(relu)→784(sigmoid), the study's first model",
    ),
    "deep": ModelFamily(
        build=build_deep,
        default_epochs=10,
        uses_hidden_sizes=True,
        description="784→128→code→128→784, ReLU inside, sigmoid output",
    ),
    "denoising": ModelFamily(
        build=build_deep,
        default_epochs=10,
        uses_hidden_sizes=True,
        description="the deep model fed clip(x + 0.2·N(0,1), 0, 1), trained to output the clean x",
        default_noise="gaussian",
    ),
    "sparse": ModelFamily(
        build=build_shallow,
        default_epochs=5,
        uses_hidden_sizes=False,
        description="the shallow model with an L1 penalty (1e-5) on the code activations",
        default_l1=1e-5,
    ),
    "conv": ModelFamily(
        build=build_conv,
        default_epochs=50,
        convolutional=True,
        uses_hidden_sizes=False,
        uses_code_size=False,
        description="the Keras conv example: Conv(32)+pool twice → 7×7×32 code → ConvTranspose(32) twice → Conv(1)",
    ),
    "conv-denoising": ModelFamily(
        build=build_conv,
        default_epochs=100,
        convolutional=True,
        uses_hidden_sizes=False,
        uses_code_size=False,
        description=(
            "the conv model fed clip(x + 0.4·N(0,1), 0, 1), trained to output the clean x (the "
            "Keras example's denoiser)"
        ),
        default_noise="gaussian",
        default_noise_factor=0.4,
    ),
    "vae": ModelFamily(
        build=build_vae,
        default_epochs=30,
        uses_hidden_sizes=True,
        description=(
            "dense VAE: 784→hidden→Gaussian code (mean, log-variance)→hidden→784, loss BCE summed over pixels + KL"
        ),
        variational=True,
        default_beta=1.0,
    ),
    "conv-vae": ModelFamily(
        build=build_conv_vae,
        default_epochs=30,
        convolutional=True,
        uses_hidden_sizes=False,
        description=(
            "the Keras VAE example: Conv(32, s2)→Conv(64, s2)→Dense(16)→Gaussian code→Dense→ConvTranspose(64, 32)→1"
        ),
        variational=True,
        default_beta=1.0,
    ),
    "beta-vae": ModelFamily(
        build=build_vae,
        default_epochs=30,
        uses_hidden_sizes=True,
        description="the dense VAE with the KL term weighted by beta (default 4, Higgins et al. 2017)",
        variational=True,
        default_beta=4.0,
    ),
}


def get_family(name: str) -> ModelFamily:
    """The family called `name`; a typo gets a close-match suggestion."""
    return lookup(name, MODELS, "model")


def multiply_adds(name: str, sample_shape: tuple[int, ...], code_size: int, hidden_sizes: tuple[int, ...] = ()) -> int:
    """Multiply-adds of one image's forward pass through family `name`'s model, counted by PyTorch's FlopCounterMode
    on a freshly built model (a convolution's work is its kernel × output positions, not its parameter count)."""
    model = get_family(name).build(sample_shape, code_size, hidden_sizes)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, math.prod(sample_shape)))
    return counter.get_total_flops() // 2  # FlopCounterMode counts a multiply-add as two operations
