"""The NumPy trainer of aelab.manual against the same model trained by torch.optim, step for step.

Same initial weights, same batches, 200 steps, float64: the NumPy parameters must match PyTorch's
to 1e-6. Agreement over a whole trajectory checks the gradients, the update rules and the loss
bookkeeping together; the reference is computed here, never typed in.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab.errors import ConfigError, TrainingError
from aelab.manual import numpy_ae as ae
from aelab.manual.numpy_train import adam_init, adam_step, train

N_STEPS, BATCH, N_FEATURES, N_HIDDEN = 200, 8, 6, 4
SETTINGS = {"sgd": {"lr": 0.05}, "adam": {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-8}}


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = ae.init_params(N_FEATURES, N_HIDDEN, rng)
    batches = rng.uniform(0.0, 1.0, (N_STEPS, BATCH, N_FEATURES))  # (steps, n, D), like image batches
    return params, batches


def _torch_train(
    params: ae.Params,
    batches: np.ndarray,
    optimizer: str,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
):
    """The same model as nn.Linear layers in float64, trained by torch.optim on the same batches."""
    encoder = torch.nn.Linear(N_FEATURES, N_HIDDEN, dtype=torch.float64)
    decoder = torch.nn.Linear(N_HIDDEN, N_FEATURES, dtype=torch.float64)
    with torch.no_grad():
        for layer, (w, b) in ((encoder, (params.W1, params.b1)), (decoder, (params.W2, params.b2))):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(encoder, torch.nn.ReLU(), decoder, torch.nn.ReLU())
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(beta1, beta2), eps=eps)
    losses = []
    for X in batches:
        x = torch.from_numpy(X)
        opt.zero_grad()
        loss = ((x - model(x)) ** 2).sum() / x.shape[0]  # (1/n) Σᵢ ‖xᵢ − x̂ᵢ‖², as numpy_ae.loss
        loss.backward()
        opt.step()
        losses.append(loss.item())
    weights = [t.detach().numpy() for t in (encoder.weight, encoder.bias, decoder.weight, decoder.bias)]
    return ae.Params(*weights), losses


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_numpy_training_matches_torch_optim(optimizer):
    params, batches = _problem()
    ours, our_losses = train(params, batches, optimizer=optimizer, **SETTINGS[optimizer])
    theirs, their_losses = _torch_train(params, batches, optimizer, **SETTINGS[optimizer])
    for name in ["W1", "b1", "W2", "b2"]:
        moved = np.abs(getattr(ours, name) - getattr(params, name)).max()
        error = np.abs(getattr(ours, name) - getattr(theirs, name)).max()
        assert error <= 1e-6 and moved > 1e3 * max(error, 1e-6), (name, error, moved)  # agreement is not trivial
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-6)
    assert np.mean(our_losses[-20:]) < np.mean(our_losses[:20])  # it trained


def test_updates_build_new_arrays_and_count_adam_steps():
    params, batches = _problem()
    before = {name: a.copy() for name, a in params.as_dict().items()}
    grads = ae.loss_and_gradients(params, batches[0])[1]
    state = adam_init(params)
    new, state = adam_step(params, grads, state, lr=0.01)
    new, state = adam_step(new, grads, state, lr=0.01)
    assert state.step == 2
    for name, array in params.as_dict().items():
        np.testing.assert_array_equal(array, before[name])
    train(params, batches[:3], optimizer="adam")
    for name, array in params.as_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_a_generator_of_batches_trains_like_the_array():
    params, batches = _problem()
    from_array = train(params, batches[:10], optimizer="adam")
    from_generator = train(params, (X for X in batches[:10]), optimizer="adam")
    assert from_array[1] == from_generator[1]


def test_bad_settings_raise_config_errors():
    params, batches = _problem()
    with pytest.raises(ConfigError, match="did you mean 'adam'"):
        train(params, batches[:1], optimizer="adm")
    for bad in ({"lr": 0.0}, {"lr": float("nan")}, {"beta1": 1.0}, {"beta2": -0.1}, {"eps": -1.0}):
        with pytest.raises(ConfigError):
            train(params, batches[:1], optimizer="adam", **bad)
    with pytest.raises(ConfigError):
        train(params, [np.zeros((2, N_FEATURES + 1))])


def test_divergence_raises_training_error():
    params, batches = _problem()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingError, match="finite"):
        train(params, batches, optimizer="sgd", lr=1e100)
