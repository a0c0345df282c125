"""Test-set metrics of a trained autoencoder: BCE with its entropy floor, MSE, PSNR, code sparsity."""

from __future__ import annotations

import torch

from aelab.models.variational import GaussianCode
from aelab.objectives import bce_from_logits, mse, output_of, pixel_entropy, psnr


@torch.no_grad()
def reconstruction_metrics(
    model: torch.nn.Module,
    target: torch.Tensor,
    inputs: torch.Tensor | None = None,
    batch_size: int = 2_000,
    loss: str | None = None,
) -> dict[str, float]:
    """Metrics over a whole set, in batches of 2,000 images: the temporaries of a whole 10,000-image
    test set at once (logits, probabilities, elementwise losses) are several 31 MB arrays at a time.

    `inputs` (default: `target`) is what the model sees, e.g. noisy images for a denoiser.
    With `loss` "mse" (your own data, linear output) only the metrics that need no [0, 1] range: mse_metrics.
    For a VAE the logits decode one seeded sample of its code (its eval-mode noise) and the code figures
    are of its posterior mean.
    Returns bce, bce_floor (the pixels' own entropy), bce_excess, mse, psnr_db,
    code_mean (mean code activation) and code_zero_fraction (share of code entries exactly 0).
    """
    model.eval()
    inputs = target if inputs is None else inputs
    if loss == "mse":
        return mse_metrics(model, target, inputs, batch_size)
    sums = {"bce": 0.0, "bce_floor": 0.0, "mse": 0.0, "code_mean": 0.0, "code_zero_fraction": 0.0}
    for i in range(0, len(target), batch_size):
        x, t = inputs[i : i + batch_size], target[i : i + batch_size]
        logits, code = model(x)
        code = code.mean if isinstance(code, GaussianCode) else code  # a VAE's code is its posterior mean
        weight = len(t)
        sums["bce"] += bce_from_logits(logits, t).item() * weight
        sums["bce_floor"] += pixel_entropy(t).item() * weight
        sums["mse"] += mse(torch.sigmoid(logits), t).item() * weight
        sums["code_mean"] += code.float().mean().item() * weight
        sums["code_zero_fraction"] += (code == 0).float().mean().item() * weight
    out = {name: value / len(target) for name, value in sums.items()}
    out["bce_excess"] = out["bce"] - out["bce_floor"]
    out["psnr_db"] = psnr(out["mse"])
    return out


@torch.no_grad()
def mse_metrics(
    model: torch.nn.Module, target: torch.Tensor, inputs: torch.Tensor, batch_size: int = 2_000
) -> dict[str, float]:
    """mse (of the linear output), code_mean and code_zero_fraction, in batches; BCE and PSNR need values in [0, 1]."""
    sums = {"mse": 0.0, "code_mean": 0.0, "code_zero_fraction": 0.0}
    for i in range(0, len(target), batch_size):
        logits, code = model(inputs[i : i + batch_size])
        weight = len(logits)
        sums["mse"] += mse(logits, target[i : i + batch_size]).item() * weight
        sums["code_mean"] += code.float().mean().item() * weight
        sums["code_zero_fraction"] += (code == 0).float().mean().item() * weight
    return {name: value / len(target) for name, value in sums.items()}


@torch.no_grad()
def per_sample_loss(
    model: torch.nn.Module, target: torch.Tensor, inputs: torch.Tensor | None, loss: str | None, batch_size: int = 2_000
) -> torch.Tensor:
    """Each sample's loss (n,): BCE (per_image_bce) or the squared error of the linear output, for the worst figure."""
    if loss != "mse":
        return per_image_bce(model, target, inputs, batch_size)
    model.eval()
    inputs = target if inputs is None else inputs
    return torch.cat(
        [
            (output_of(model(inputs[i : i + batch_size])[0], loss) - target[i : i + batch_size]).square().mean(dim=1)
            for i in range(0, len(target), batch_size)
        ]
    )


@torch.no_grad()
def per_image_bce(
    model: torch.nn.Module, target: torch.Tensor, inputs: torch.Tensor | None = None, batch_size: int = 2_000
) -> torch.Tensor:
    """BCE of each image (n,), to find the worst reconstructions; in batches, to bound memory."""
    model.eval()
    inputs = target if inputs is None else inputs
    parts = []
    for i in range(0, len(target), batch_size):
        logits, _ = model(inputs[i : i + batch_size])
        parts.append(
            torch.nn.functional.binary_cross_entropy_with_logits(
                logits, target[i : i + batch_size], reduction="none"
            ).mean(dim=1)
        )
    return torch.cat(parts)
