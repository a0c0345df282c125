"""A bottleneck sweep as one model: M dense autoencoders stacked, trained by one forward/backward.

Every model m has its own code size k_m but the same layer shapes otherwise, so its weights are
stored in stacked tensors (M, n_out, n_in), padded to the largest code size C. The padded code
units are held at exactly zero: the layers into and out of the code multiply their weights by a
fixed 0/1 mask in `forward`, so a padded weight's gradient is exactly 0 and Adam (elementwise, no
weight decay) never moves it from its initial 0. Each model is initialised by building the
`DenseAutoencoder` it stands for, from its own generator, and copying its weights: the same
numbers `aelab train` would start from.

The input batch is shared, so the first layer of all models is one GEMM over their stacked rows;
later layers are one batched matmul (`torch.baddbmm`) each. No Python loop runs over models.
"""

from __future__ import annotations

import ctypes
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aelab.errors import ConfigError
from aelab.models.dense import DenseAutoencoder
from aelab.native.build import load as load_native
from aelab.objectives import PerModelBCE


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """A DenseAutoencoder's Linear layers in data order: encoder first, then decoder."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


class BatchedDenseAutoencoder(nn.Module):
    """M dense autoencoders n_features → hidden… → code_sizes[m] → …hidden → n_features, as one module.

    Args:
        n_features: input size D (784 for 28×28 images).
        code_sizes: the code size of each model, length M (sizes may repeat: one model per seed).
        hidden_sizes: encoder hidden widths shared by all models; () is the shallow model.
        generators: one per model, seeding its initialisation exactly as `DenseAutoencoder` would.
    """

    def __init__(self, n_features: int, code_sizes: Sequence[int], hidden_sizes: tuple[int, ...] = (),
                 generators: Sequence[torch.Generator] = ()):
        super().__init__()
        if len(generators) != len(code_sizes) or not code_sizes:
            raise ConfigError(f"{len(code_sizes)} code sizes and {len(generators)} generators: expected one generator per model")
        self.n_features, self.code_sizes, self.hidden_sizes = n_features, tuple(code_sizes), tuple(hidden_sizes)
        n_models, width = len(code_sizes), max(code_sizes)
        widths = [n_features, *hidden_sizes, width, *hidden_sizes[::-1], n_features]
        self.code_layer = len(hidden_sizes)  # index of the layer whose output is the code
        self.weights = nn.ParameterList(nn.Parameter(torch.zeros(n_models, n_out, n_in)) for n_in, n_out in zip(widths, widths[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(n_models, n_out)) for n_out in widths[1:])
        # code_mask[m, j] = 1 where unit j is one of model m's k_m code units, 0 where it is padding
        self.register_buffer("code_mask", (torch.arange(width) < torch.tensor(code_sizes)[:, None]).float())
        self.n_parameters: list[int] = []  # each model's own (unpadded) parameter count
        with torch.no_grad():
            for m, (code_size, generator) in enumerate(zip(code_sizes, generators)):
                reference = DenseAutoencoder(n_features, code_size, hidden_sizes, generator)
                self.n_parameters.append(sum(p.numel() for p in reference.parameters()))
                for i, layer in enumerate(linear_layers(reference)):
                    n_out, n_in = layer.weight.shape
                    self.weights[i][m, :n_out, :n_in] = layer.weight
                    self.biases[i][m, :n_out] = layer.bias

    def layer_parameters(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight (M, n_out, n_in) and bias (M, n_out) of layer i, padded code units masked to 0."""
        weight, bias = self.weights[i], self.biases[i]
        if i == self.code_layer:  # rows of the padded code units
            return weight * self.code_mask[:, :, None], bias * self.code_mask
        if i == self.code_layer + 1:  # columns reading the padded code units
            return weight * self.code_mask[:, None, :], bias
        return weight, bias

    def layer(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Layer i's pre-activation: h (b, n_in) shared by all models, or (M, b, n_in) → (M, b, n_out)."""
        weight, bias = self.layer_parameters(i)
        n_models, n_out, n_in = weight.shape
        if h.dim() == 2:  # one GEMM: all models' rows stacked, (b, n_in) @ (n_in, M·n_out)
            out = torch.addmm(bias.reshape(-1), h, weight.reshape(n_models * n_out, n_in).T)
            return out.reshape(len(h), n_models, n_out).transpose(0, 1)  # (b, M·n_out) → (M, b, n_out)
        return torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))  # (M, b, n_in) @ (M, n_in, n_out)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, n_features) in [0, 1] → codes (M, b, C), C = max code size; padded units are 0."""
        h = x
        for i in range(self.code_layer + 1):
            h = F.relu(self.layer(i, h))
        return h

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """codes (M, b, C) → logits (M, b, n_features); sigmoid gives pixels."""
        h = code
        last = len(self.weights) - 1
        for i in range(self.code_layer + 1, last + 1):
            h = self.layer(i, h)
            h = F.relu(h) if i < last else h
        return h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (b, n_features) → (logits (M, b, n_features), codes (M, b, C)): the Trainer's contract."""
        code = self.encode(x)
        return self.decode(code), code

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel values in [0, 1], (M, b, n_features)."""
        return torch.sigmoid(self(x)[0])

    @torch.no_grad()
    def extract(self, m: int) -> DenseAutoencoder:
        """Model m as a stand-alone DenseAutoencoder (its unpadded weights copied out)."""
        model = DenseAutoencoder(self.n_features, self.code_sizes[m], self.hidden_sizes, torch.Generator().manual_seed(0))
        for i, layer in enumerate(linear_layers(model)):
            n_out, n_in = layer.weight.shape
            layer.weight.copy_(self.weights[i][m, :n_out, :n_in])
            layer.bias.copy_(self.biases[i][m, :n_out])
        return model


@torch.no_grad()
def per_model_metrics(model: BatchedDenseAutoencoder, x: torch.Tensor, max_elements: int = 1 << 22) -> dict[str, np.ndarray]:
    """Mean BCE and MSE of every model over `x` (n, D): {"bce": (M,), "mse": (M,)} float64.

    Rows are taken in chunks so that one chunk's logits hold at most `max_elements` numbers
    (an (M, n, D) tensor for the whole test set would need gigabytes for a wide sweep). The losses
    come from the compiled kernel when it is built (one pass, ~5× faster than PyTorch's here).
    """
    model.eval()
    n_models = len(model.code_sizes)
    rows = max(1, max_elements // (n_models * x.shape[1]))
    sums = {"bce": torch.zeros(n_models, dtype=torch.float64), "mse": torch.zeros(n_models, dtype=torch.float64)}
    lib = load_native()
    no_bias = torch.zeros(n_models, x.shape[1])
    loss, sq = (ctypes.c_double * n_models)(), (ctypes.c_double * n_models)()
    with torch.no_grad():
        for start in range(0, len(x), rows):
            target = x[start:start + rows].contiguous()
            logits, _ = model(target)
            if lib is None:
                _, parts = PerModelBCE()(logits, None, target)
                for name in sums:
                    sums[name] += parts[name].double() * len(target)
                continue
            logits = logits.contiguous()
            lib.aelab_bce_sums(logits.data_ptr(), target.data_ptr(), no_bias.data_ptr(), n_models, len(target), x.shape[1], loss, sq)
            sums["bce"] += torch.tensor(loss[:], dtype=torch.float64) / x.shape[1]
            sums["mse"] += torch.tensor(sq[:], dtype=torch.float64) / x.shape[1]
    return {name: (total / len(x)).numpy() for name, total in sums.items()}
