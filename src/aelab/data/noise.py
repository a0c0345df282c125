"""Input corruptions for denoising autoencoders: clean batch in, corrupted batch out.

Each takes the random generator explicitly (no global RNG), so a run's noise is reproducible from
its seed and independent of everything else that draws random numbers. Inputs and outputs are
float tensors in [0, 1] of any shape.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from aelab.registries import lookup

Corruption = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


def gaussian(x: torch.Tensor, factor: float, generator: torch.Generator) -> torch.Tensor:
    """clip(x + factor·N(0, 1), 0, 1): the corruption of the original study (factor 0.2).

    Computed in place in the noise's buffer: for a whole training set (the original's single draw)
    the temporaries of `x + factor * noise` would be two more copies of it (376 MB on 60,000 images).
    """
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(
        x.device
    )  # drawn on the CPU: same noise on every device
    return noise.mul_(factor).add_(x).clamp_(0.0, 1.0)


def masking(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Each pixel zeroed independently with probability `fraction` (Vincent et al., 2008)."""
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device) >= fraction
    return x * keep


def salt_pepper(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Each pixel, with probability `fraction`, set to 0 or 1 with equal chance."""
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    salt = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device) < 0.5
    hit = u < fraction
    return torch.where(hit, salt.to(x.dtype), x)


CORRUPTIONS: dict[str, Corruption] = {"gaussian": gaussian, "masking": masking, "salt-pepper": salt_pepper}


def corruption(kind: str, factor: float) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """A (batch, generator) → corrupted batch function, as the Trainer's `input_transform`."""
    corrupt = lookup(kind, CORRUPTIONS, "noise")
    return lambda x, generator: corrupt(x, factor, generator)
