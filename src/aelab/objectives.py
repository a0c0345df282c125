"""Training objectives: each returns the total loss and its named parts, for logging.

The reconstruction term is binary cross-entropy computed from logits and averaged over pixels and
batch — what Keras' `binary_crossentropy` on a sigmoid output computes (Keras too takes the logits
of a sigmoid layer). Sparsity (an L1 term on the code) adds to it; the parts stay separate.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bce_from_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over all pixels and samples; target in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits, target)


def pixel_entropy(target: torch.Tensor) -> torch.Tensor:
    """Mean entropy of the pixels themselves, −[x log x + (1−x) log(1−x)]: the floor of BCE.

    BCE(x, p) = H(x) + KL(x‖p) per pixel, so no model can score below the mean of H(x) on grey
    levels; reporting the floor lets a reader see how much of a BCE figure is removable at all.
    """
    return F.binary_cross_entropy(target, target)  # H(x) = BCE(x, x); torch clamps log at −100


def mse(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all pixels and samples."""
    return F.mse_loss(reconstruction, target)


def psnr(mean_squared_error: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of a mean squared error for signals in [0, peak]."""
    return 10.0 * math.log10(peak**2 / mean_squared_error) if mean_squared_error > 0 else math.inf


class ReconstructionObjective:
    """BCE from logits against the (clean) target; the base every autoencoder here trains on."""

    def __call__(
        self, logits: torch.Tensor, code: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        bce = bce_from_logits(logits, target)
        return bce, {"bce": bce}


def l1_penalty(code: torch.Tensor, weight: float, reduction: str = "mean") -> torch.Tensor:
    """weight · Σ|code|, summed over units and then averaged ("mean") or summed ("sum") over the batch.

    Keras' `activity_regularizer=l1(w)` adds w·Σ|code| over the whole batch; Keras 2.0 added that
    sum as is (so the penalty grows with batch size), tf.keras and Keras 3 divide it by the batch
    size. "mean" is the per-sample figure, independent of batch size.
    """
    per_sample = code.abs().sum(dim=-1)
    return weight * (per_sample.mean(dim=-1) if reduction == "mean" else per_sample.sum(dim=-1))


class SparseObjective:
    """BCE plus an L1 penalty on the code activations (a sparse autoencoder)."""

    def __init__(self, l1: float, reduction: str = "mean"):
        self.l1, self.reduction = l1, reduction

    def __call__(
        self, logits: torch.Tensor, code: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        bce = bce_from_logits(logits, target)
        penalty = l1_penalty(code, self.l1, self.reduction)
        return bce + penalty, {"bce": bce, "l1": penalty}


def objective_for(l1: float, reduction: str = "mean"):
    """The objective of a run: plain reconstruction, or with the L1 term when `l1` > 0."""
    return SparseObjective(l1, reduction) if l1 > 0 else ReconstructionObjective()


class PerModelBCE:
    """The sweep's objective: Σ_m mean BCE_m, so model m's gradient is exactly that of its own loss.

    Returns the total and, as vector parts (one entry per model), each model's mean BCE and its
    MSE (the latter for the record only, computed without gradient).
    """

    def __call__(
        self, logits: torch.Tensor, code: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """logits (M, b, D), target (b, D) in [0, 1] → (scalar, {"bce": (M,), "mse": (M,)})."""
        bce = F.binary_cross_entropy_with_logits(logits, target.expand_as(logits), reduction="none").mean(dim=(1, 2))
        with torch.no_grad():
            mse = (torch.sigmoid(logits) - target).square().mean(dim=(1, 2))
        return bce.sum(), {"bce": bce, "mse": mse}


class MSEObjective:
    """Mean squared error of the model's *linear* output against the target, plus L1 on the code when l1 > 0.

    For data that is not in [0, 1] (standardised tables, signals): the decoder's last layer is read
    as the reconstruction itself (no sigmoid), L = mean_ij (ŷ_ij − x_ij)². The compiled step computes
    BCE only, so MSE trains with autograd (train/engines.py records why).
    """

    def __init__(self, l1: float = 0.0, reduction: str = "mean"):
        self.l1, self.reduction = l1, reduction

    def __call__(
        self, logits: torch.Tensor, code: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        error = mse(logits, target)  # L = mean (ŷ − x)², ŷ the linear output
        if not self.l1:
            return error, {"mse": error}
        penalty = l1_penalty(code, self.l1, self.reduction)
        return error + penalty, {"mse": error, "l1": penalty}


def output_of(logits: torch.Tensor, loss: str | None) -> torch.Tensor:
    """The reconstruction from the decoder's output: sigmoid for BCE, the output itself for MSE."""
    return logits if loss == "mse" else torch.sigmoid(logits)


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) ‖ N(0, 1)) per sample and code dimension, (batch, k), in nats."""
    return -0.5 * (
        1 + log_var - mean.square() - log_var.exp()
    )  # Kingma & Welling 2014, Appendix B: −½ Σ (1 + log σ² − μ² − σ²)


class VariationalObjective:
    """The VAE loss as the Keras "Variational AutoEncoder" example computes it, with a weight β on the KL term.

    Per batch: mean over images of (BCE summed over the pixels + β · KL summed over the code dimensions),
    that is −ELBO for β = 1 (Kingma & Welling 2014, eq. 3) and the β-VAE objective otherwise (Higgins et al.
    2017, eq. 4). `code` is the model's GaussianCode (sample, mean, log_var). Parts, for the record:
    reconstruction, kl (unweighted, summed over dimensions) and kl_per_dim (k,), whose large entries
    are the code dimensions the model uses.
    """

    def __init__(self, beta: float = 1.0):
        self.beta = beta

    def __call__(
        self, logits: torch.Tensor, code, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        reconstruction = per_pixel.sum(dim=1).mean()  # Σ over pixels, mean over images (the example's reduction)
        kl_per_dim = gaussian_kl(code.mean, code.log_var).mean(dim=0)  # (k,): mean over images of each dimension's KL
        kl = kl_per_dim.sum()
        total = (
            reconstruction + self.beta * kl
        )  # Higgins et al. 2017, eq. 4 (β = 1: −ELBO, Kingma & Welling 2014, eq. 3)
        return total, {"reconstruction": reconstruction, "kl": kl, "kl_per_dim": kl_per_dim.detach()}
