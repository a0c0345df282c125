"""The conv families' faster path (channels-last, models/layout.py) computes what the NCHW path computed.

The reference is today's path itself: the same model built and run with the layout switched back to
NCHW (`layout.LAYOUT = torch.contiguous_format`, which makes `as_maps` a plain reshape, as the models'
`view` was). Forward passes, gradients and short training runs agree within float rounding; saved
weights and checkpoints keep their names and shapes, and a resumed run continues bit for bit.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F

from aelab.models import layout
from aelab.models.registry import get_family
from aelab.objectives import ReconstructionObjective, VariationalObjective
from aelab.train.checkpoint import load_weights, save_weights
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.trainer import Trainer

SHAPES = [(1, 28, 28), (3, 32, 32)]
FAMILIES = ["conv", "conv-vae"]


@contextmanager
def nchw_layout():
    """Today's path: models built and run inside hold NCHW weights and feature maps."""
    before = layout.LAYOUT
    layout.LAYOUT = torch.contiguous_format
    try:
        yield
    finally:
        layout.LAYOUT = before


def build(name: str, shape: tuple[int, int, int], seed: int = 0):
    return get_family(name).build(shape, 2, (), torch.Generator().manual_seed(seed))


def objective(name: str):
    return VariationalObjective() if get_family(name).variational else ReconstructionObjective()


def loss_and_grads(model, name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    logits, code = model(x)
    loss, _ = objective(name)(logits, code, x)
    loss.backward()
    return logits.detach(), loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", FAMILIES)
def test_channels_last_forward_and_gradients_equal_the_nchw_path(name, shape):
    x = torch.rand(6, shape[0] * shape[1] * shape[2], generator=torch.Generator().manual_seed(1))
    fast = build(name, shape).eval()  # eval: a VAE draws the same fixed ε in both
    with nchw_layout():
        reference = build(name, shape).eval()
        ref_logits, ref_loss, ref_grads = loss_and_grads(reference, name, x)
    assert all(p.is_contiguous() for p in reference.parameters())  # the reference really is NCHW
    logits, loss, grads = loss_and_grads(fast, name, x)
    assert torch.allclose(logits, ref_logits, rtol=1e-5, atol=1e-5)
    assert torch.allclose(loss, ref_loss, rtol=1e-5)
    assert grads.keys() == ref_grads.keys()
    for n in grads:
        assert torch.allclose(grads[n], ref_grads[n], rtol=1e-4, atol=1e-5), n
    assert torch.equal(fast.encode(x), fast.encode(x.clone()))  # the code comes back as flat rows
    assert torch.allclose(fast.encode(x), reference.encode(x), rtol=1e-5, atol=1e-5)  # …in the NCHW order figures read


@pytest.mark.parametrize("name", FAMILIES)
def test_the_convolution_kernels_are_stored_channels_last(name):
    """The speed-up is engaged: every 4-D kernel is channels-last, in a built model and after loading weights."""
    model = build(name, (1, 28, 28))
    kernels = [p for p in model.parameters() if p.dim() == 4]
    assert len(kernels) == 5 and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    assert not all(p.is_contiguous() for p in kernels)  # (32, 1, 3, 3) is both; the 32→32 kernels are not


@pytest.mark.parametrize("name", FAMILIES)
def test_weights_saved_and_loaded_keep_names_shapes_and_layout(name, tmp_path):
    model = build(name, (1, 28, 28), seed=3)
    with nchw_layout():
        names_before = {n: tuple(t.shape) for n, t in build(name, (1, 28, 28)).state_dict().items()}
    assert {n: tuple(t.shape) for n, t in model.state_dict().items()} == names_before
    save_weights(tmp_path / "model.safetensors", model, {"model": name})
    loaded = load_weights(tmp_path / "model.safetensors", build(name, (1, 28, 28), seed=4))
    x = torch.rand(4, 784, generator=torch.Generator().manual_seed(5))
    assert torch.equal(loaded.eval()(x)[0], model.eval()(x)[0])
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in loaded.parameters() if p.dim() == 4)


def trainer(name: str, epochs: int, model=None) -> Trainer:
    return Trainer(
        build(name, (1, 28, 28)) if model is None else model,
        objective(name),
        batch_size=16,
        epochs=epochs,
        learning_rate=1e-3,
        generator=torch.Generator().manual_seed(1),
        quiet=True,
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_training_matches_the_nchw_path_within_float_rounding(name):
    x = torch.rand(64, 784, generator=torch.Generator().manual_seed(2))
    fast = trainer(name, 2)
    fast.fit(x)
    with nchw_layout():
        reference = trainer(name, 2)
        reference.fit(x)
    for a, b in zip(fast.position.history, reference.position.history):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
    for (n, p), q in zip(fast.model.named_parameters(), reference.model.parameters()):
        difference = (p - q).abs()
        # Adam divides each gradient by its own running size, so a component near zero whose rounding differs
        # between the layouts may move its weight by up to lr (1e-3) per step either way (seen once in ~10 runs
        # under load): nearly every weight within float rounding, none as far as one Adam step
        apart = ~torch.isclose(p, q, rtol=1e-4, atol=1e-5)
        assert int(apart.sum()) <= max(1, p.numel() // 50) and difference.max() <= 1e-3, n  # measured: ≤ 0.7%, 7e-5


@pytest.mark.parametrize("name", FAMILIES)
def test_a_conv_model_resumed_mid_training_continues_bit_for_bit(name):
    """A checkpoint stores NCHW tensors; restored into channels-last parameters, training goes on identically."""
    x = torch.rand(48, 784, generator=torch.Generator().manual_seed(2))
    whole = trainer(name, 2)
    whole.fit(x)
    first = trainer(name, 1)
    first.fit(x)
    tensors, info = trainer_state(first)
    resumed = trainer(name, 2)
    restore_trainer_state(resumed, tensors, info)
    resumed.fit(x)
    assert all(
        torch.equal(a, b) for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values())
    )
    assert [r.train_loss for r in whole.position.history] == [r.train_loss for r in resumed.position.history]


def test_first_layer_maps_are_plain_nchw_arrays():
    """Figures turn feature maps into NumPy arrays: they come back contiguous (batch, 32, H, W)."""
    model = build("conv", (1, 28, 28))
    x = torch.rand(3, 784, generator=torch.Generator().manual_seed(6))
    maps = model.first_layer_maps(x)
    assert maps.shape == (3, 32, 28, 28) and maps.is_contiguous()
    expected = F.relu(
        F.conv2d(x.view(3, 1, 28, 28), model.encoder[0].weight.contiguous(), model.encoder[0].bias, padding=1)
    )
    assert torch.allclose(maps, expected, atol=1e-6)


def out_of_place(model):
    """The same model with a fresh tensor per ReLU (as before the in-place activations)."""
    model = copy.deepcopy(model)
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and all(m.inplace for m in relus)  # the in-place activations are engaged
    for m in relus:
        m.inplace = False
    return model


@pytest.mark.parametrize("name", FAMILIES)
def test_in_place_relus_give_the_same_bits_forward_backward_and_in_training(name):
    x = torch.rand(8, 784, generator=torch.Generator().manual_seed(7))
    fast = build(name, (1, 28, 28)).eval()
    reference = out_of_place(fast)
    logits, loss, grads = loss_and_grads(fast, name, x)
    ref_logits, ref_loss, ref_grads = loss_and_grads(reference, name, x)
    assert torch.equal(logits, ref_logits) and torch.equal(loss, ref_loss)
    assert all(torch.equal(grads[n], ref_grads[n]) for n in grads)
    assert torch.equal(fast.first_layer_maps(x), reference.first_layer_maps(x))
    trained, ref_trained = trainer(name, 1), trainer(name, 1, out_of_place(build(name, (1, 28, 28))))
    trained.fit(x.repeat(4, 1))
    ref_trained.fit(x.repeat(4, 1))
    assert all(
        torch.equal(a, b) for a, b in zip(trained.model.state_dict().values(), ref_trained.model.state_dict().values())
    )
