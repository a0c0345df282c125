"""The simple autoencoder's forward pass, loss and hand-derived backward pass, in NumPy only.

Batch form, as in docs/gradients.md: Z1 = X W1ᵀ + b1, H = relu(Z1), Z2 = H W2ᵀ + b2,
X̂ = relu(Z2), L = (1/n) Σᵢ ‖xᵢ − x̂ᵢ‖². Shapes: X (n, D), W1 (H, D), b1 (H,), W2 (D, H), b2 (D,).
Each backward step is one small function citing its equation (G1)–(G8), micrograd-style, so the
code can be read against the derivation; `aelab.manual.study_checks` verifies it. No torch here: the
point is to see every derivative written out, with nothing that could compute it for us.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from aelab.errors import ConfigError


@dataclass(frozen=True)
class Params:
    """The four parameter arrays — or, as returned by `backward`, the gradients of L for each.

    W1 (H, D) encoder weights, b1 (H,), W2 (D, H) decoder weights, b2 (D,); floating dtype.
    Gradients share this type because each has its parameter's shape, so an optimizer can walk
    both together. Nothing in `aelab.manual` writes into these arrays; updates build new ones.
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def __post_init__(self) -> None:
        _check_params(self)

    @property
    def n_features(self) -> int:
        """D, the width of an input row."""
        return self.W1.shape[1]

    @property
    def n_hidden(self) -> int:
        """H, the number of hidden units (the code size)."""
        return self.W1.shape[0]

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays by name, in the order W1, b1, W2, b2 (the order every report uses)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Cache:
    """What `forward` computed and `backward` needs: the masks come from Z1 and Z2 (G2, G6), the
    weight gradients from H (G3), the residual from X̂ (G1). Z1, H: (n, H); Z2, X_hat: (n, D)."""

    Z1: np.ndarray
    H: np.ndarray
    Z2: np.ndarray
    X_hat: np.ndarray


def _check_params(params: Params) -> None:
    """Raise ConfigError unless the four arrays are floating and their shapes fit together."""
    for name, array in params.as_dict().items():
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
            kind = getattr(array, "dtype", type(array).__name__)
            raise ConfigError(f"Params.{name} must be a floating-point NumPy array, got {kind}")
    if params.W1.ndim != 2 or 0 in params.W1.shape:
        raise ConfigError(f"Params.W1 must have shape (n_hidden, n_features) with both ≥ 1, got {params.W1.shape}")
    n_hidden, n_features = params.W1.shape
    expected = {"b1": (n_hidden,), "W2": (n_features, n_hidden), "b2": (n_features,)}
    for name, shape in expected.items():
        got = getattr(params, name).shape
        if got != shape:
            raise ConfigError(f"Params.{name} must have shape {shape} to match W1 {params.W1.shape}, got {got}")


def _check_batch(X: np.ndarray, n_features: int | None, name: str = "X") -> None:
    """Raise ConfigError unless X is a floating (n, n_features) array with n ≥ 1 (L divides by n);
    n_features None accepts any width ≥ 1."""
    if not isinstance(X, np.ndarray) or not np.issubdtype(X.dtype, np.floating):
        raise ConfigError(f"{name} must be a floating-point NumPy array, got {getattr(X, 'dtype', type(X).__name__)}")
    width = "D ≥ 1" if n_features is None else n_features
    wrong_width = X.ndim == 2 and (X.shape[1] < 1 if n_features is None else X.shape[1] != n_features)
    if X.ndim != 2 or X.shape[0] < 1 or wrong_width:
        raise ConfigError(f"{name} must have shape (n ≥ 1, {width}), got {X.shape}")


def init_params(n_features: int, n_hidden: int, rng: np.random.Generator, dtype=np.float64) -> Params:
    """Glorot-uniform weights, U(±√(6/(fan_in + fan_out))), and zero biases.

    Glorot keeps the scale of activations and gradients similar in both layers; the biases can start
    at zero because the random weights already make the units differ. `rng` is passed in, so a run
    is reproducible from its seed (no global RNG).
    """
    for name, value in (("n_features", n_features), ("n_hidden", n_hidden)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be an integer ≥ 1, got {value!r}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ConfigError(f"dtype must be a floating-point type, got {np.dtype(dtype)}")
    limit = np.sqrt(6.0 / (n_features + n_hidden))  # same for both layers: fan_in + fan_out = D + H
    return Params(
        W1=rng.uniform(-limit, limit, (n_hidden, n_features)).astype(dtype),
        b1=np.zeros(n_hidden, dtype),
        W2=rng.uniform(-limit, limit, (n_features, n_hidden)).astype(dtype),
        b2=np.zeros(n_features, dtype),
    )


def relu(Z: np.ndarray) -> np.ndarray:
    """max(Z, 0), elementwise; same shape as Z."""
    return np.maximum(Z, 0)


def forward(params: Params, X: np.ndarray) -> Cache:
    """Run the model on a batch X (n, D) and keep every intermediate `backward` needs."""
    _check_batch(X, params.n_features)
    Z1 = X @ params.W1.T + params.b1  # (n, D)(D, H) + (H,) → (n, H); the bias broadcasts over rows
    H = relu(Z1)  # (n, H)
    Z2 = H @ params.W2.T + params.b2  # (n, H)(H, D) + (D,) → (n, D)
    return Cache(Z1=Z1, H=H, Z2=Z2, X_hat=relu(Z2))


def loss(X_hat: np.ndarray, X: np.ndarray) -> float:
    """L = (1/n) Σᵢ ‖xᵢ − x̂ᵢ‖²: squared error summed over features, averaged over the n rows.

    Not torch's MSELoss (mean over all n·D entries): the sum over features is what the derivation
    uses, and the two differ by the factor D in every gradient.
    """
    _check_batch(X, None)
    _check_batch(X_hat, X.shape[1], name="X_hat")
    if X_hat.shape != X.shape:
        raise ConfigError(f"X_hat must have the shape of X {X.shape}, got {X_hat.shape}")
    return float(np.sum((X - X_hat) ** 2) / X.shape[0])


def grad_output(X_hat: np.ndarray, X: np.ndarray) -> np.ndarray:
    """∂L/∂X̂ (n, D): the residual, scaled by 2/n — the only place the batch mean enters."""
    return (2.0 / X.shape[0]) * (X_hat - X)  # (G1)


def relu_backward(grad: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Chain through relu: keep grad where Z > 0, zero elsewhere (relu'(0) = 0, as in PyTorch).

    `np.where` rather than `grad * (Z > 0)` so a non-finite grad behind a closed unit still gives 0,
    matching torch's threshold_backward.
    """
    return np.where(Z > 0, grad, 0)  # (G2) for the output mask, (G6) for the hidden mask


def grad_weight(grad_Z: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """∂L/∂W (out, in) for Z = inputs Wᵀ + b: grad_Z (n, out) ᵀ · inputs (n, in); the product sums
    over the batch."""
    return grad_Z.T @ inputs  # (G3) with inputs = H, (G7) with inputs = X


def grad_bias(grad_Z: np.ndarray) -> np.ndarray:
    """∂L/∂b (out,): each bias is added to every row, so its gradient sums grad_Z over the batch."""
    return grad_Z.sum(axis=0)  # (G4) for b2, (G8) for b1


def grad_hidden(grad_Z2: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """∂L/∂H (n, H) = ∂L/∂Z2 (n, D) · W2 (D, H): each code unit feeds every output of its row."""
    return grad_Z2 @ W2  # (G5)


def backward(params: Params, X: np.ndarray, cache: Cache) -> Params:
    """Gradients of L with respect to W1, b1, W2, b2, for the batch X (n, D) that made `cache`.

    Runs (G1)–(G8) of docs/gradients.md in order; the returned Params has each parameter's shape.
    """
    _check_batch(X, params.n_features)
    n = X.shape[0]
    for name, shape in (("Z1", (n, params.n_hidden)), ("H", (n, params.n_hidden)), ("Z2", X.shape), ("X_hat", X.shape)):
        if getattr(cache, name).shape != shape:
            raise ConfigError(f"cache.{name} must have shape {shape} for X {X.shape}, got {getattr(cache, name).shape}")
    grad_Z2 = relu_backward(grad_output(cache.X_hat, X), cache.Z2)  # (G1), (G2): (n, D)
    grad_Z1 = relu_backward(grad_hidden(grad_Z2, params.W2), cache.Z1)  # (G5), (G6): (n, H)
    return Params(
        W1=grad_weight(grad_Z1, X),  # (G7): (H, D)
        b1=grad_bias(grad_Z1),  # (G8): (H,)
        W2=grad_weight(grad_Z2, cache.H),  # (G3): (D, H)
        b2=grad_bias(grad_Z2),  # (G4): (D,)
    )


def loss_and_gradients(params: Params, X: np.ndarray) -> tuple[float, Params]:
    """L and its gradients on the batch X (n, D): forward, loss, backward — one training step's work."""
    cache = forward(params, X)
    return loss(cache.X_hat, X), backward(params, X, cache)
