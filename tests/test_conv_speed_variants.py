"""The step variants bench_families.py times (benchmarks/conv_variants.py) compute what aelab's models compute.

A timing says nothing unless the contenders do the same arithmetic: the sub-pixel form of the stride-2
transposed convolution must equal nn.ConvTranspose2d (forward and gradients, to 1e-5), and the plain NCHW
loop's forward must equal the model's own.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from conv_variants import SubPixelConvTranspose2d, plain_forward, plain_model, subpixel_weight, with_subpixel  # noqa: E402

from aelab.models.registry import get_family  # noqa: E402


def transposed_and_subpixel(c_in: int, c_out: int, seed: int) -> tuple[nn.ConvTranspose2d, SubPixelConvTranspose2d]:
    reference = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
    with torch.no_grad():
        reference.weight.copy_(torch.randn(reference.weight.shape, generator=torch.Generator().manual_seed(seed)))
        reference.bias.copy_(torch.randn(c_out, generator=torch.Generator().manual_seed(seed + 1)))
    subpixel = SubPixelConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
    subpixel.load_state_dict(reference.state_dict())  # the same parameter names and shapes
    return reference, subpixel


@settings(max_examples=25, deadline=None)
@given(
    c_in=st.integers(1, 6),
    c_out=st.integers(1, 6),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_subpixel_equals_conv_transpose_forward_and_gradients(c_in, c_out, h, w, batch, seed):
    reference, subpixel = transposed_and_subpixel(c_in, c_out, seed)
    x = torch.randn(batch, c_in, h, w, generator=torch.Generator().manual_seed(seed + 2), requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    upstream = torch.randn(batch, c_out, 2 * h, 2 * w, generator=torch.Generator().manual_seed(seed + 3))
    expected, got = reference(x), subpixel(x2)
    assert got.shape == expected.shape == (batch, c_out, 2 * h, 2 * w)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)
    (expected * upstream).sum().backward()
    (got * upstream).sum().backward()
    assert torch.allclose(x2.grad, x.grad, atol=1e-5, rtol=1e-5)
    assert torch.allclose(subpixel.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-5)
    assert torch.allclose(subpixel.bias.grad, reference.bias.grad, atol=1e-4, rtol=1e-5)


def test_subpixel_weight_places_each_of_the_nine_taps_once():
    """Every tap of the 3×3 kernel lands in exactly one (phase, offset) slot; the other 7 of 16 are zeros."""
    weight = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    kernel = subpixel_weight(weight)  # (4, 1, 2, 2)
    assert kernel.shape == (4, 1, 2, 2)
    assert sorted(kernel[kernel != 0].tolist()) == list(range(1, 10))
    assert kernel[0, 0].tolist() == [[5.0, 0.0], [0.0, 0.0]]  # output (2a, 2b) sees only the centre tap


def test_subpixel_refuses_other_shapes():
    with pytest.raises(ValueError, match="stride 2"):
        SubPixelConvTranspose2d(2, 2, 3, stride=1, padding=1)


@pytest.mark.parametrize("name", ["conv", "conv-vae"])
def test_models_with_subpixel_layers_compute_the_same(name):
    model = get_family(name).build((1, 28, 28), 2, (), torch.Generator().manual_seed(0)).eval()
    swapped = with_subpixel(copy.deepcopy(model))
    assert swapped.state_dict().keys() == model.state_dict().keys()
    assert sum(isinstance(m, SubPixelConvTranspose2d) for m in swapped.modules()) == 2
    x = torch.rand(4, 784, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(swapped(x)[0], model(x)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["conv", "conv-vae"])
def test_the_plain_nchw_forward_equals_the_models_own(name):
    model = get_family(name).build((1, 28, 28), 2, (), torch.Generator().manual_seed(0)).eval()
    plain = plain_model(copy.deepcopy(model))
    assert all(p.is_contiguous() for p in plain.parameters())
    assert not any(m.inplace for m in plain.modules() if isinstance(m, nn.ReLU))
    x = torch.rand(4, 784, generator=torch.Generator().manual_seed(1))
    (logits, code), (plain_logits, plain_code) = model(x), plain_forward(plain, x)
    assert torch.allclose(plain_logits, logits, atol=1e-5, rtol=1e-5)
    assert type(plain_code) is type(code)
    if name == "conv":
        assert torch.allclose(plain_code, code, atol=1e-5, rtol=1e-5)
    else:
        assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-5) for a, b in zip(plain_code, code))
