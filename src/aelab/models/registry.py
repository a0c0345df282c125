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


MODELS: dict[str, ModelFamily] = {
    "shallow": ModelFamily(
        build=lambda n, code, hidden, generator: DenseAutoencoder(n, code, (), generator),
        default_epochs=5,
        uses_hidden_sizes=False,
        description="784→code(relu)→784(sigmoid), the study's first model",
    ),
    "deep": ModelFamily(
        build=lambda n, code, hidden, generator: DenseAutoencoder(n, code, hidden, generator),
        default_epochs=10,
        uses_hidden_sizes=True,
        description="784→128→code→128→784, ReLU inside, sigmoid output",
    ),
}


def get_family(name: str) -> ModelFamily:
    """The family called `name`; a typo gets a close-match suggestion."""
    return lookup(name, MODELS, "model")
