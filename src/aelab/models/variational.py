"""Variational autoencoders: a Gaussian code q(z|x) = N(mean, diag(exp(log_var))) sampled by reparameterisation.

Two encoders/decoders share the sampling here (`VariationalAutoencoder`):
  - `DenseVAE`: n → hidden… (ReLU) → mean, log_var (code_size each); code_size → …hidden (ReLU) → n logits.
  - `ConvVAE`: the Keras example "Variational AutoEncoder":
      encoder Conv2D(32, 3×3, stride 2, ReLU) → Conv2D(64, 3×3, stride 2, ReLU) → Flatten → Dense(16, ReLU)
              → mean, log_var (Dense(code_size) each)           (C, H, W) → (32, H/2, W/2) → (64, H/4, W/4) → 16
      decoder Dense(64·H/4·W/4, ReLU) → reshape → ConvTranspose(64, stride 2, ReLU) → ConvTranspose(32, stride 2,
              ReLU) → ConvTranspose(C, 3×3, stride 1) → logits  (64, H/4, W/4) → (64, H/2, W/2) → (32, H, W) → (C, H, W)

Randomness is explicit and resumable: the noise ε of z = mean + exp(log_var / 2)·ε is drawn from a
generator seeded with (`noise_seed` + `draws`), both buffers of the module, so they are saved with the
weights and in every checkpoint, and a resumed run draws exactly the ε an uninterrupted one would.
In training mode every forward pass draws fresh ε; in eval mode ε comes from a fixed seed, so the
test loss (a one-sample estimate of −ELBO) is the same number every time it is computed.
`encode` returns the mean (the code a figure or a downstream model uses); `reconstruct` decodes it.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import torch
from torch import nn

from aelab.models.conv import check_sample_shape, conv, keras_init, relu, up_conv
from aelab.models.dense import dense, relu_stack
from aelab.models.layout import as_maps, channels_last

EVAL_NOISE_OFFSET = 2**40  # the eval-mode ε's seed, far from any training draw's


_THREAD = threading.local()


def seeded_generator(seed: int) -> torch.Generator:
    """This thread's CPU generator, reseeded with `seed` (making a fresh one each step cost more than the draw)."""
    generator = getattr(_THREAD, "generator", None)
    if generator is None:
        generator = _THREAD.generator = torch.Generator()
    return generator.manual_seed(seed)


class GaussianCode(NamedTuple):
    """What a VAE's forward pass gives its objective: the sampled z and the posterior's parameters, (batch, k) each."""

    sample: torch.Tensor
    mean: torch.Tensor
    log_var: torch.Tensor


class VariationalAutoencoder(nn.Module):
    """The sampling, shared by the dense and the convolutional VAE; subclasses define `posterior` and `decode`."""

    def __init__(self, n_features: int, code_size: int, generator: torch.Generator | None):
        super().__init__()
        self.n_features, self.code_size = n_features, code_size
        seed = (
            torch.randint(0, 2**40, (), generator=generator, dtype=torch.int64)
            if generator is not None
            else torch.zeros((), dtype=torch.int64)
        )  # no generator: a model about to load its saved buffers
        self.register_buffer("noise_seed", seed)  # drawn from the init generator: the run's seed decides it
        self.register_buffer("draws", torch.zeros((), dtype=torch.int64))  # training forward passes so far

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, n_features) → (mean, log_var), (batch, code_size) each."""
        raise NotImplementedError

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """code (batch, code_size) → logits (batch, n_features)."""
        raise NotImplementedError

    def noise(self, like: torch.Tensor) -> torch.Tensor:
        """ε ~ N(0, I) shaped like `like`: a fresh draw per training pass, a fixed one in eval mode."""
        if self.training:
            seed = int(self.noise_seed) + int(self.draws)
            self.draws.add_(1)  # in place: no nn.Module attribute assignment (a few µs per step of a compiled VAE)
        else:
            seed = int(self.noise_seed) + EVAL_NOISE_OFFSET
        # drawn on the CPU (a seeded CPU generator), so a model draws the same ε on every device; reseeding resets a
        # generator's whole state, so this thread's one generator draws what a fresh one seeded alike draws
        return torch.randn(like.shape, generator=seeded_generator(seed), dtype=like.dtype).to(like.device)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, GaussianCode]:
        """x → (logits of the decoded sample, GaussianCode)."""
        mean, log_var = self.posterior(x)
        z = mean + torch.exp(0.5 * log_var) * self.noise(mean)  # reparameterisation (Kingma & Welling 2014, eq. 10)
        return self.decode(z), GaussianCode(z, mean, log_var)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean (batch, code_size): the code figures and downstream models use."""
        return self.posterior(x)[0]

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoded posterior mean, pixels in [0, 1], shape of `x`."""
        return torch.sigmoid(self.decode(self.encode(x)))


class DenseVAE(VariationalAutoencoder):
    """A dense VAE: n → hidden… → (mean, log_var); code_size → …hidden → n. Any depth, any code size."""

    def __init__(
        self,
        n_features: int,
        code_size: int,
        hidden_sizes: tuple[int, ...] = (),
        generator: torch.Generator | None = None,
    ):
        super().__init__(n_features, code_size, generator)
        self.hidden_sizes = tuple(hidden_sizes)
        widths = [n_features, *hidden_sizes]
        self.encoder = relu_stack(widths, relu_last=True, generator=generator) if hidden_sizes else nn.Identity()
        self.mean = dense(widths[-1], code_size, generator)
        self.log_var = dense(widths[-1], code_size, generator)
        self.decoder = relu_stack([code_size, *hidden_sizes[::-1], n_features], relu_last=False, generator=generator)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mean(h), self.log_var(h)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def first_layer_weights(self) -> torch.Tensor:
        """The first dense layer's weights (units, n_features): one image per unit."""
        first = self.encoder[0] if self.hidden_sizes else self.mean
        return first.weight.detach()


class ConvVAE(VariationalAutoencoder):
    """The Keras example's convolutional VAE for images (C, H, W), H and W divisible by 4."""

    def __init__(
        self, sample_shape: tuple[int, int, int], code_size: int = 2, generator: torch.Generator | None = None
    ):
        c, h, w = check_sample_shape(sample_shape, "conv-vae")
        super().__init__(math.prod(sample_shape), code_size, generator)
        self.sample_shape, self.inner = (c, h, w), (64, h // 4, w // 4)
        self.encoder = nn.Sequential(
            conv(c, 32, generator, stride=2),
            relu(),
            conv(32, 64, generator, stride=2),
            relu(),
            nn.Flatten(),
            dense(math.prod(self.inner), 16, generator),
            relu(),
        )
        self.mean, self.log_var = dense(16, code_size, generator), dense(16, code_size, generator)
        self.expand = nn.Sequential(dense(code_size, math.prod(self.inner), generator), relu())
        self.decoder = nn.Sequential(
            up_conv(64, 64, generator),
            relu(),
            up_conv(64, 32, generator),
            relu(),
            keras_init(nn.ConvTranspose2d(32, c, 3, padding=1), generator),
        )
        channels_last(self)  # oneDNN's layout: no reorders around each convolution (models/layout.py)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(as_maps(x, self.sample_shape))  # (b, C, H, W) → (b, 16)
        return self.mean(h), self.log_var(h)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        inner = as_maps(self.expand(code), self.inner)  # (b, k) → (b, 64, H/4, W/4)
        return self.decoder(inner).flatten(1)  # → (b, C, H, W) → (b, C·H·W)

    def first_layer_weights(self) -> torch.Tensor:
        """The first convolution's kernels (32, C, 3, 3)."""
        return self.encoder[0].weight.detach()

    def first_layer_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The first layer's feature maps (batch, 32, H/2, W/2) after its ReLU."""
        with torch.no_grad():
            return self.encoder[1](self.encoder[0](as_maps(x, self.sample_shape))).contiguous()
