"""Dense (fully connected) autoencoders: the study's shallow and deep models.

shallow: 784 → code_size (relu) → 784 (sigmoid)
deep:    784 → 128 (relu) → code_size (relu) → 128 (relu) → 784 (sigmoid)

Layers are initialised as Keras' Dense (Glorot-uniform weights, zero biases) so the numbers compare
with the original study. `forward` and `decode` return *logits*: the objective applies the sigmoid
inside the loss (binary cross-entropy from logits is exact where sigmoid-then-log underflows), and
`reconstruct` gives pixel values in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn


def dense(n_in: int, n_out: int, generator: torch.Generator | None = None) -> nn.Linear:
    """A Linear layer initialised like Keras' Dense: Glorot-uniform weight, zero bias."""
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def relu_stack(sizes: list[int], relu_last: bool, generator: torch.Generator | None = None) -> nn.Sequential:
    """Dense layers through `sizes` with ReLU between them (and after the last if `relu_last`)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(dense(n_in, n_out, generator))
        if relu_last or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class EncoderDecoder(nn.Module):
    """What every deterministic autoencoder here shares: forward as (logits, code) and `reconstruct`;
    subclasses define `encode` (inputs → code) and `decode` (code → logits)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x → (logits, code); the code is returned so objectives can penalise it (sparsity)."""
        code = self.encode(x)
        return self.decode(code), code

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel values in [0, 1], shape of `x`."""
        return torch.sigmoid(self.decode(self.encode(x)))


class DenseAutoencoder(EncoderDecoder):
    """An MLP autoencoder with a mirrored decoder.

    Args:
        n_features: input size (784 for 28×28 images).
        code_size: width of the code layer (ReLU).
        hidden_sizes: encoder hidden widths, outermost first; the decoder mirrors them.
            () gives the study's shallow model, (128,) its deep one.
        generator: seeds the weight initialisation (explicit, so runs are reproducible).
    """

    def __init__(
        self,
        n_features: int,
        code_size: int,
        hidden_sizes: tuple[int, ...] = (),
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n_features, self.code_size, self.hidden_sizes = n_features, code_size, tuple(hidden_sizes)
        widths = [n_features, *hidden_sizes, code_size]
        self.encoder = relu_stack(widths, relu_last=True, generator=generator)
        self.decoder = relu_stack(widths[::-1], relu_last=False, generator=generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_features) in [0, 1] → code (batch, code_size), non-negative."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """code (batch, code_size) → logits (batch, n_features); sigmoid gives pixels."""
        return self.decoder(code)

    def first_layer_weights(self) -> torch.Tensor:
        """The encoder's first weight matrix, (first width, n_features): one image per unit."""
        return self.encoder[0].weight.detach()
