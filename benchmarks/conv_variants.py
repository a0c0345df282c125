"""Ways to compute the conv families' step that bench_families.py times against aelab's (not aelab's own path).

- `plain_forward`: the model's layers called on PyTorch's default NCHW tensors, with NCHW weights and
  out-of-place ReLUs (`plain_model`): what a plain PyTorch loop does, and what aelab did before its models went
  channels-last (models/layout.py) with in-place ReLUs (models/conv.py's `relu`).
- `SubPixelConvTranspose2d`: a stride-2 "same" 3×3 transposed convolution computed as a stride-1 2×2
  convolution to 4·C_out channels followed by a pixel shuffle (sub-pixel convolution, Shi et al. 2016,
  "Is the deconvolution layer the same as a convolutional layer?"). Equal to ConvTranspose2d's result;
  measured slower here (16 multiply-adds per input pixel and channel pair where the transposed convolution
  does 9, plus the padding and the shuffle's copies), so aelab does not use it; kept so the measurement
  can be repeated on another machine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.conv import ConvAutoencoder
from aelab.models.variational import ConvVAE, GaussianCode

# which of the transposed kernel's taps (row or column index, 0-2) feeds output phase p from input offset d:
# output 2a + p, with PyTorch's padding 1, receives input a + d through kernel index p - 2d + 1
TAP = {(0, 0): 1, (1, 0): 2, (1, 1): 0}  # (phase, offset) → tap; phase 0 from offset 1 gets none (a zero)


def subpixel_weight(weight: torch.Tensor) -> torch.Tensor:
    """ConvTranspose2d weight (C_in, C_out, 3, 3) → conv2d weight (4·C_out, C_in, 2, 2), channels ordered for
    pixel_shuffle(2): channel c·4 + 2·py + px computes output pixel (2a + py, 2b + px) of channel c."""
    c_in, c_out = weight.shape[:2]
    zero = weight.new_zeros(c_in, c_out)
    phases = []
    for py in (0, 1):
        for px in (0, 1):
            rows = [
                torch.stack(
                    [
                        weight[:, :, TAP[py, dy], TAP[px, dx]] if (py, dy) in TAP and (px, dx) in TAP else zero
                        for dx in (0, 1)
                    ],
                    dim=-1,
                )
                for dy in (0, 1)
            ]
            phases.append(torch.stack(rows, dim=-2))  # (C_in, C_out, 2, 2) for phase (py, px)
    kernel = torch.stack(phases, dim=2)  # (C_in, C_out, 4, 2, 2)
    return kernel.permute(1, 2, 0, 3, 4).reshape(4 * c_out, c_in, 2, 2)  # (C_out·4, C_in, 2, 2)


class SubPixelConvTranspose2d(nn.ConvTranspose2d):
    """ConvTranspose2d(k=3, stride 2, padding 1, output_padding 1) computed as conv + pixel shuffle.

    The parameters stay the transposed convolution's (`weight` (C_in, C_out, 3, 3), `bias`), so a
    state_dict moves between the two unchanged; the conv kernel is rebuilt from them on every call
    (differentiably: gradients reach `weight` and `bias`).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if (self.kernel_size, self.stride, self.padding, self.output_padding) != ((3, 3), (2, 2), (1, 1), (1, 1)):
            raise ValueError(f"sub-pixel form of {self}: expected kernel 3, stride 2, padding 1, output_padding 1")

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        shifted = F.pad(x, (0, 1, 0, 1))  # input a + 1 beyond the last row/column is zero: (b, C, H+1, W+1)
        phases = F.conv2d(shifted, subpixel_weight(self.weight), self.bias.repeat_interleave(4))  # (b, 4·C_out, H, W)
        return F.pixel_shuffle(phases, 2)  # (b, C_out, 2H, 2W)


def with_subpixel(model: nn.Module) -> nn.Module:
    """`model` with each stride-2 transposed convolution replaced by its sub-pixel form (same parameters)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ConvTranspose2d) and child.stride == (2, 2):
                replacement = SubPixelConvTranspose2d(
                    child.in_channels, child.out_channels, 3, stride=2, padding=1, output_padding=1
                )
                replacement.load_state_dict(child.state_dict())
                setattr(
                    parent,
                    name,
                    replacement.to(memory_format=torch.channels_last)
                    if child.weight.is_contiguous(memory_format=torch.channels_last)
                    else replacement,
                )
    return model


def plain_model(model: nn.Module) -> nn.Module:
    """`model` as plain PyTorch builds it, for `plain_forward`: kernels in the default NCHW layout, a fresh tensor
    per ReLU (nn.ReLU()'s default; aelab's models write theirs in place)."""
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model.to(memory_format=torch.contiguous_format)


def plain_forward(model: nn.Module, x: torch.Tensor):
    """The model's layers on NCHW tensors, as a plain PyTorch loop runs them: (logits, code) like its forward."""
    if isinstance(model, ConvAutoencoder):
        code = model.encoder(x.view(-1, *model.sample_shape))  # (b, C, H, W) → (b, 32, H/4, W/4)
        return model.decoder(code).flatten(1), code.flatten(1)
    if isinstance(model, ConvVAE):
        hidden = model.encoder(x.view(-1, *model.sample_shape))  # (b, C, H, W) → (b, 16)
        mean, log_var = model.mean(hidden), model.log_var(hidden)
        z = mean + torch.exp(0.5 * log_var) * model.noise(mean)  # reparameterisation, as the model's forward
        logits = model.decoder(model.expand(z).view(-1, *model.inner)).flatten(1)
        return logits, GaussianCode(z, mean, log_var)
    raise TypeError(f"plain_forward: {type(model).__name__}: expected ConvAutoencoder or ConvVAE")
