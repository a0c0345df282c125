"""Model families by name, each with the study's defaults (epochs) and a builder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from aelab.models.dense import DenseAutoencoder
from aelab.registries import lookup


@dataclass(frozen=True)
class ModelFamily:
    """How to build one model family and the study's default number of epochs for it."""

    build: Callable[..., nn.Module]  # (n_features, code_size, hidden_sizes, generator)
    default_epochs: int
    uses_hidden_sizes: bool
    description: str
    default_noise: str | None = None  # the corruption a denoising family trains with unless told otherwise
    default_l1: float = 0.0  # the L1 weight on the code unless told otherwise


def build_shallow(n_features: int, code_size: int, hidden_sizes: tuple[int, ...], generator=None) -> nn.Module:
    """n_features → code_size → n_features (hidden sizes are ignored)."""
    return DenseAutoencoder(n_features, code_size, (), generator)


def build_deep(n_features: int, code_size: int, hidden_sizes: tuple[int, ...], generator=None) -> nn.Module:
    """n_features → hidden… → code_size → …hidden → n_features."""
    return DenseAutoencoder(n_features, code_size, hidden_sizes, generator)


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
}


def get_family(name: str) -> ModelFamily:
    """The family called `name`; a typo gets a close-match suggestion."""
    return lookup(name, MODELS, "model")
