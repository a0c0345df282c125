"""The study's autoencoders in JAX, and their training epoch written as fast as JAX allows.

The same models and settings as aelab (src/aelab/models/dense.py, objectives.py, train/trainer.py)
and the Keras peer: Dense layers x·W + b, Glorot-uniform W and zero b, ReLU after every layer but
the last (the code included), logits out with the sigmoid inside the loss, per-pixel mean binary
cross-entropy, Adam (lr 1e-3, β 0.9/0.999, Keras' ε 1e-7), batch 32, a fresh order every epoch.

Every model family is a pair (parameters, losses): `losses(params, batch)` returns one mean BCE per
model, shape (M,), M = 1 for a single model. Training minimises Σ_m loss_m, whose gradient with
respect to model m's parameters is exactly that of loss_m (the models share no parameter), and
Adam works element by element, so one optimiser over all models is M independent Adams.

Sweep families (shallow models, one per code size):
  joint   unpadded: the first layers of all models side by side in one (784, Σk) matrix, so the
          encoder is one GEMM for all models (as aelab's batched sweep), each decoder its own;
  padded  stacked arrays padded to the largest code, `vmap`ped over models; a 0/1 mask on the code
          keeps the padding's outputs and gradients exactly zero, so it stays zero under Adam.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import optax
from jax import lax

LEARNING_RATE, BETA_1, BETA_2, EPSILON = 1e-3, 0.9, 0.999, 1e-7  # Keras' Adam defaults (tf.keras, Keras 3)
HIDDEN = {"shallow": (), "deep": (128,)}


def widths(model: str, code_size: int, n_features: int = 784) -> list[int]:
    """Layer widths, input to output: shallow [784, k, 784], deep [784, 128, k, 128, 784]."""
    hidden = list(HIDDEN[model])
    return [n_features, *hidden, code_size, *hidden[::-1], n_features]


def glorot_uniform(key: jax.Array, n_in: int, n_out: int) -> jax.Array:
    """(n_in, n_out) weights ~ U(−a, a), a = √(6 / (n_in + n_out)) (Glorot & Bengio 2010, Keras' GlorotUniform)."""
    limit = math.sqrt(6.0 / (n_in + n_out))
    return jax.random.uniform(key, (n_in, n_out), jnp.float32, -limit, limit)


def init_dense(seed: int, sizes: list[int]) -> list[tuple[jax.Array, jax.Array]]:
    """One model's layers [(W (n_in, n_out), b (n_out,))], Glorot-uniform weights and zero biases."""
    keys = jax.random.split(jax.random.PRNGKey(seed), len(sizes) - 1)
    return [
        (glorot_uniform(key, n_in, n_out), jnp.zeros(n_out, jnp.float32))
        for key, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])
    ]


def bce_from_logits(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Mean binary cross-entropy of sigmoid(logits) against target in [0, 1], over every pixel and sample."""
    # BCE(σ(z), x) = max(z, 0) − z·x + log(1 + e^−|z|): exact for every z
    # (TensorFlow's sigmoid_cross_entropy_with_logits)
    return jnp.mean(jnp.maximum(logits, 0.0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits))))


def dense_losses(params: list[tuple[jax.Array, jax.Array]], batch: jax.Array) -> jax.Array:
    """One model: batch (b, 784) → its mean BCE, shape (1,)."""
    h = batch
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        h = jax.nn.relu(h) if i < len(params) - 1 else h  # the last layer gives logits
    return bce_from_logits(h, batch)[None]


def init_joint(seed: int, code_sizes: tuple[int, ...]) -> dict:
    """Shallow models, unpadded; model m starts where `init_dense(seed, widths("shallow", k_m))` does."""
    models = [init_dense(seed, widths("shallow", k)) for k in code_sizes]
    return {
        "encoder": (
            jnp.concatenate([m[0][0] for m in models], axis=1),  # (784, Σk)
            jnp.concatenate([m[0][1] for m in models]),
        ),
        "decoders": [m[1] for m in models],
    }


def joint_losses(params: dict, batch: jax.Array) -> jax.Array:
    """batch (b, 784) → each model's mean BCE, (M,): one encoder GEMM for all, then each decoder."""
    w, b = params["encoder"]
    codes = jax.nn.relu(batch @ w + b)  # (b, Σk): every model's code side by side
    losses, start = [], 0
    for w_out, b_out in params["decoders"]:
        k = w_out.shape[0]
        losses.append(bce_from_logits(codes[:, start : start + k] @ w_out + b_out, batch))
        start += k
    return jnp.stack(losses)


def init_padded(seed: int, code_sizes: tuple[int, ...]) -> tuple[dict, jax.Array]:
    """Shallow models stacked and zero-padded to the largest code: (params, mask (M, K))."""
    widest = max(code_sizes)
    models = [init_dense(seed, widths("shallow", k)) for k in code_sizes]

    def pad_code(a, axis):
        return jnp.pad(a, [(0, widest - a.shape[axis]) if d == axis else (0, 0) for d in range(a.ndim)])

    params = {
        "w1": jnp.stack([pad_code(m[0][0], 1) for m in models]),  # (M, 784, K)
        "b1": jnp.stack([pad_code(m[0][1], 0) for m in models]),  # (M, K)
        "w2": jnp.stack([pad_code(m[1][0], 0) for m in models]),  # (M, K, 784)
        "b2": jnp.stack([m[1][1] for m in models]),
    }  # (M, 784)
    mask = (jnp.arange(widest)[None, :] < jnp.array(code_sizes)[:, None]).astype(jnp.float32)  # (M, K)
    return params, mask


def padded_losses(mask: jax.Array, params: dict, batch: jax.Array) -> jax.Array:
    """batch (b, 784) → each model's mean BCE, (M,), the models vmapped over the stacked parameters."""

    def one(p: dict, m: jax.Array) -> jax.Array:
        code = jax.nn.relu(batch @ p["w1"] + p["b1"]) * m  # (b, K); padded units are 0 and pass no gradient
        return bce_from_logits(code @ p["w2"] + p["b2"], batch)

    return jax.vmap(one)(params, mask)


def family(model: str, code_sizes: tuple[int, ...], seed: int) -> tuple[object, Callable]:
    """(initial parameters, losses function) of `model`: shallow, deep (one code size), joint or padded."""
    if model in HIDDEN:
        (code_size,) = code_sizes
        return init_dense(seed, widths(model, code_size)), dense_losses
    if model == "joint":
        return init_joint(seed, code_sizes), joint_losses
    params, mask = init_padded(seed, code_sizes)
    return params, partial(padded_losses, mask)


def adam() -> optax.GradientTransformation:
    return optax.adam(LEARNING_RATE, b1=BETA_1, b2=BETA_2, eps=EPSILON)


def make_update(losses: Callable, optimizer: optax.GradientTransformation) -> Callable:
    """(params, opt_state, batch) → (params, opt_state, each model's loss (M,)): one Adam step on Σ_m loss_m."""

    def update(params, opt_state, batch):
        def total(p):
            per_model = losses(p, batch)
            return jnp.sum(per_model), per_model

        (_, per_model), grads = jax.value_and_grad(total, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, per_model

    return update


def loop_step(update: Callable) -> Callable:
    """The jitted step a Python loop calls once per batch; the batch is gathered inside from the resident set.

    (params, opt_state, loss_sum, x (n, 784), order (steps, b), i) → (params, opt_state, loss_sum + losses);
    the state is donated, so XLA updates it in place.
    """

    @partial(jax.jit, donate_argnums=(0, 1, 2))
    def step(params, opt_state, loss_sum, x, order, i):
        params, opt_state, loss = update(params, opt_state, jnp.take(x, order[i], axis=0))
        return params, opt_state, loss_sum + loss

    return step


def scan_epoch(update: Callable) -> Callable:
    """The whole epoch as one `lax.scan` over the batch order: (params, opt_state, x, order) →
    (params, opt_state, each model's mean training loss (M,))."""

    @partial(jax.jit, donate_argnums=(0, 1))
    def epoch(params, opt_state, x, order):
        def body(state, rows):
            params, opt_state, loss = update(*state, jnp.take(x, rows, axis=0))
            return (params, opt_state), loss

        (params, opt_state), losses = lax.scan(body, (params, opt_state), order)
        return params, opt_state, losses.mean(axis=0)

    return epoch


def products_epoch(n_layers: int) -> Callable:
    """Only the matrix products of an epoch's steps, as `lax.scan`: the floor under any XLA training loop.

    (weights [(n_in, n_out)], batches (steps, b, 784)) → the last step's ∂W. Per step: forward
    h_{l+1} = h_l·W_l; backward ∂W_l = h_lᵀ·g and g ← g·W_lᵀ for every layer but the first, g
    starting at the output (3 products per layer, 2 for the first: the count of bench_speed's
    epoch_flops). No bias, activation, loss or Adam. Every ∂W is the loop's carry, so none is dead code.
    """

    @jax.jit
    def epoch(weights, batches):
        def body(_, batch):
            acts = [batch]
            for w in weights:
                acts.append(acts[-1] @ w)
            g, grads = acts[-1], [None] * n_layers
            for layer in reversed(range(n_layers)):
                grads[layer] = acts[layer].T @ g
                if layer > 0:
                    g = g @ weights[layer].T
            return tuple(grads), None

        grads, _ = lax.scan(body, tuple(jnp.zeros_like(w) for w in weights), batches)
        return grads

    return epoch
