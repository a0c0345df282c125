"""A bottleneck sweep as one model: M dense autoencoders side by side, trained by one step.

Each model is an ordinary `DenseAutoencoder` with its own code size k_m (`models[m]`), built from
its own generator: the same numbers `aelab train` would start from. Nothing is padded — an earlier
design stacked the models into tensors padded to the largest code, which made half of the sweep's
arithmetic and of Adam's memory traffic padding (Σk = 350 real code units against 7·95 = 665).

What the models share is the input batch, so the first layer of all models is one GEMM over their
concatenated rows; the rest runs per model. This module's forward is the autograd reference; the
fast step (train/compiled/sweep.py) keeps all parameters in one flat buffer and writes the same
products into preallocated buffers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aelab.errors import ConfigError
from aelab.models.dense import DenseAutoencoder
from aelab.native.library import load as load_native
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

    def __init__(
        self,
        n_features: int,
        code_sizes: Sequence[int],
        hidden_sizes: tuple[int, ...] = (),
        generators: Sequence[torch.Generator] = (),
    ):
        super().__init__()
        if len(generators) != len(code_sizes) or not code_sizes:
            raise ConfigError(
                f"{len(code_sizes)} code sizes and {len(generators)} generators: expected one generator per model"
            )
        self.n_features, self.code_sizes, self.hidden_sizes = n_features, tuple(code_sizes), tuple(hidden_sizes)
        self.code_layer = len(hidden_sizes)  # index of the layer whose output is the code
        self.models = nn.ModuleList(
            DenseAutoencoder(n_features, k, hidden_sizes, g) for k, g in zip(code_sizes, generators)
        )
        self.n_parameters = [sum(p.numel() for p in m.parameters()) for m in self.models]  # each model's own count

    @classmethod
    def from_state(
        cls, n_features: int, code_sizes: Sequence[int], hidden_sizes: tuple[int, ...], state: dict[str, torch.Tensor]
    ) -> BatchedDenseAutoencoder:
        """The batched model whose parameters are `state` (its state_dict: a sweep's checkpoint keeps it, so a
        finished sweep's models can be read back without retraining). A state of another layout raises
        RuntimeError (load_state_dict's), for the reader to name the folder."""
        model = cls(n_features, code_sizes, hidden_sizes, [torch.Generator().manual_seed(0) for _ in code_sizes])
        model.load_state_dict(state)
        return model

    def layers(self, m: int) -> list[nn.Linear]:
        """Model m's Linear layers, encoder first."""
        return linear_layers(self.models[m])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (b, n_features) → (logits (M, b, n_features), codes (M, b, C)): the Trainer's contract.

        C = the largest code size; a smaller code is padded with zeros in this output only.
        """
        firsts = [self.layers(m)[0] for m in range(len(self.models))]
        shared = F.linear(x, torch.cat([f.weight for f in firsts]), torch.cat([f.bias for f in firsts]))  # (b, Σ n_out)
        width, start = max(self.code_sizes), 0
        logits, codes = [], []
        for m, first in enumerate(firsts):
            h = F.relu(shared[:, start : start + first.out_features])
            start += first.out_features
            code, layers = h, self.layers(m)
            for i, layer in enumerate(layers[1:], start=1):
                h = layer(h) if i == len(layers) - 1 else F.relu(layer(h))
                code = h if i == self.code_layer else code
            logits.append(h)
            codes.append(F.pad(code, (0, width - code.shape[1])))
        return torch.stack(logits), torch.stack(codes)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel values in [0, 1], (M, b, n_features)."""
        return torch.sigmoid(self(x)[0])

    @torch.no_grad()
    def extract(self, m: int) -> DenseAutoencoder:
        """Model m as a stand-alone DenseAutoencoder with its own contiguous parameters, copied bit for bit: the
        family `aelab train` builds (shallow: no hidden sizes; deep: these), so it is saved, loaded, explored and
        probed as any trained model."""
        model = DenseAutoencoder(
            self.n_features, self.code_sizes[m], self.hidden_sizes, torch.Generator().manual_seed(0)
        )
        for mine, theirs in zip(model.parameters(), self.models[m].parameters()):
            mine.copy_(theirs)
        return model


@torch.no_grad()
def per_model_metrics(
    model: BatchedDenseAutoencoder, x: torch.Tensor, max_elements: int = 1 << 22
) -> dict[str, np.ndarray]:
    """Mean BCE and MSE of every model over `x` (n, D): {"bce": (M,), "mse": (M,)} float64.

    Rows are taken in chunks so that one chunk's logits hold at most `max_elements` numbers
    (an (M, n, D) tensor for the whole test set would need gigabytes for a wide sweep). The losses
    come from the compiled kernel when it is built (one pass: the 7-size sweep's test-set evaluation took
    0.27 s against 0.48 s with PyTorch's).
    """
    model.eval()
    n_models = len(model.code_sizes)
    rows = max(1, max_elements // (n_models * x.shape[1]))
    sums = {"bce": torch.zeros(n_models, dtype=torch.float64), "mse": torch.zeros(n_models, dtype=torch.float64)}
    device = next(model.parameters()).device  # during training on a GPU (the sweep's per-epoch test metrics)
    native = load_native() if device.type == "cpu" else None  # the kernel reads CPU memory
    no_bias = torch.zeros(n_models, x.shape[1])
    for start in range(0, len(x), rows):
        target = x[start : start + rows].to(device).contiguous()
        logits, _ = model(target)
        if native is None:
            _, parts = PerModelBCE()(logits, None, target)
            for name in sums:
                sums[name] += parts[name].double().cpu() * len(target)
            continue
        bce, sq = compiled_bce_sums(native, logits.contiguous(), target, no_bias)
        sums["bce"] += bce / x.shape[1]
        sums["mse"] += sq / x.shape[1]
    return {name: (total / len(x)).numpy() for name, total in sums.items()}


def compiled_bce_sums(
    native, logits: torch.Tensor, target: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per model, Σ BCE of `logits` + `bias` (M, b, D) against `target` (b, D) and Σ (σ − x)², float64 (M,),
    compiled."""
    ffi, (n_models, rows, cols) = native.ffi, logits.shape
    loss, sq = ffi.new("double[]", n_models), ffi.new("double[]", n_models)
    pointer = lambda t: ffi.cast("float *", t.data_ptr())  # noqa: E731
    native.lib.aelab_bce_sums(pointer(logits), pointer(target), pointer(bias), n_models, rows, cols, loss, sq)
    return (
        torch.tensor(ffi.unpack(loss, n_models), dtype=torch.float64),
        torch.tensor(ffi.unpack(sq, n_models), dtype=torch.float64),
    )
