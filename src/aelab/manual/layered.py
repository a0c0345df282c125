"""The gradient exercises as one stack of dense layers, differentiated by hand in NumPy.

Layer l maps A_{l-1} to Z_l = A_{l-1} W_lᵀ + b_l and A_l = act_l(Z_l), with A_0 = X and A_L = X̂;
every hidden activation is a ReLU. Two outputs: a ReLU with the squared error (the exercise of
docs/gradients.md, (G1)–(G8); L = 2 is `numpy_ae`'s model) or a sigmoid with binary cross-entropy
((B1)). The deep exercise is the same stack with L = 4 ((D1)–(D4)).

Parameters are a dict {"W1": (H1, D), "b1": (H1,), …, "WL": (D, H_{L-1}), "bL": (D,)}: the
user's code of the grader takes and returns plain dicts, so this module does too.

The backward pass is a sequence of named *sites* — ("loss", L), then per layer ("act", l),
("weight", l), ("bias", l), ("back", l) — each running one step function of `numpy_ae` (or (B1) here).
`backward` takes replacements for any sites: that is how `aelab.manual.mistakes` rebuilds each
classic mistake from the correct pass, changing one step and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from aelab.errors import ConfigError
from aelab.manual import numpy_ae as ae

OUTPUTS = ("relu", "sigmoid")
Site = tuple[str, int]  # (step kind, layer): ("loss", L), ("act", l), ("weight", l), ("bias", l), ("back", l)
Step = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Layered:
    """A stack of `n_layers` dense layers, ReLU inside, `output` at the end: "relu" (trained on the
    squared error) or "sigmoid" (trained on binary cross-entropy)."""

    n_layers: int
    output: str

    def __post_init__(self) -> None:
        if self.n_layers < 1 or self.output not in OUTPUTS:
            raise ConfigError(f"a layered model needs n_layers ≥ 1 and output in {OUTPUTS}, got {self}")

    def parameter_names(self) -> list[str]:
        """W1, b1, …, WL, bL: the order every report uses."""
        return [f"{kind}{layer}" for layer in range(1, self.n_layers + 1) for kind in ("W", "b")]

    def shapes(self, widths: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Each parameter's shape for layer widths (D, H1, …, D): W_l is (widths[l], widths[l-1])."""
        if len(widths) != self.n_layers + 1:
            raise ConfigError(f"expected {self.n_layers + 1} layer widths, got {widths}")
        shapes = {}
        for layer in range(1, self.n_layers + 1):
            shapes[f"W{layer}"] = (widths[layer], widths[layer - 1])
            shapes[f"b{layer}"] = (widths[layer],)
        return shapes


@dataclass(frozen=True)
class Cache:
    """Z: the pre-activations Z_1 … Z_L; A: the activations A_0 = X, A_1, …, A_L = X̂."""

    Z: tuple[np.ndarray, ...]
    A: tuple[np.ndarray, ...]


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^(−Z)), written through tanh so that no large |Z| overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * Z))


def forward(model: Layered, params: Mapping[str, np.ndarray], X: np.ndarray) -> Cache:
    """Every layer's Z and A for the batch X (n, D)."""
    Z, A = [], [X]
    for layer in range(1, model.n_layers + 1):
        Z.append(A[-1] @ params[f"W{layer}"].T + params[f"b{layer}"])  # (n, in)(in, out) + (out,)
        last = layer == model.n_layers
        A.append(sigmoid(Z[-1]) if last and model.output == "sigmoid" else ae.relu(Z[-1]))
    return Cache(Z=tuple(Z), A=tuple(A))


def loss(model: Layered, cache: Cache, X: np.ndarray) -> float:
    """The squared error (1/n) Σ ‖x − x̂‖² for a ReLU output; for a sigmoid output the binary
    cross-entropy −(1/n) Σᵢ Σⱼ [x log x̂ + (1 − x) log(1 − x̂)], computed from the logits Z_L as
    (1/n) Σ [max(Z, 0) − x Z + log(1 + e^(−|Z|))] so it stays finite where x̂ rounds to 0 or 1."""
    if model.output == "relu":
        return ae.loss(cache.A[-1], X)
    logits = cache.Z[-1]
    return float(np.sum(np.maximum(logits, 0) - X * logits + np.log1p(np.exp(-np.abs(logits)))) / X.shape[0])


def bce_grad_logits(X_hat: np.ndarray, X: np.ndarray) -> np.ndarray:
    """∂L/∂Z_L (n, D) for a sigmoid output under binary cross-entropy: the sigmoid's derivative
    x̂(1 − x̂) cancels the cross-entropy's denominator, leaving the residual over n."""
    return (X_hat - X) / X.shape[0]  # (B1)


def passed_through(grad: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """The sigmoid output's step: (B1) already is ∂L/∂Z_L, so nothing is left to multiply."""
    return grad  # (B1): the sigmoid's derivative is folded in


def correct_step(model: Layered, site: Site) -> Step:
    """The step function that the correct backward pass runs at `site`."""
    kind, layer = site
    sigmoid_out = model.output == "sigmoid"
    if kind == "loss":
        return bce_grad_logits if sigmoid_out else ae.grad_output  # (B1) or (G1)
    if kind == "act":
        return passed_through if sigmoid_out and layer == model.n_layers else ae.relu_backward  # (G2), (G6)
    steps = {"weight": ae.grad_weight, "bias": ae.grad_bias, "back": ae.grad_hidden}  # (G3)/(G7), (G4)/(G8), (G5)
    if kind not in steps:
        raise ConfigError(f"unknown backward site {site}: expected loss, act, weight, bias or back")
    return steps[kind]


def backward(
    model: Layered,
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    cache: Cache,
    swaps: Mapping[Site, Step] | None = None,
) -> dict[str, np.ndarray]:
    """The gradient of L for each parameter; `swaps` replaces the step run at any site.

    From the top: the loss's gradient ((G1) or (B1)), then per layer, last to first, the activation's
    mask ((G2)/(G6)), the weight and bias gradients ((G3)/(G7), (G4)/(G8)) and the gradient passed
    down to the layer below ((G5)); the deep model repeats these per layer ((D1)–(D4)).
    """
    swaps = swaps or {}

    def step(kind: str, layer: int) -> Step:
        return swaps.get((kind, layer)) or correct_step(model, (kind, layer))

    top = model.n_layers
    grad = step("loss", top)(cache.A[top], X)  # ∂L/∂A_L: (n, D)
    grads = {}
    for layer in range(top, 0, -1):
        grad_Z = step("act", layer)(grad, cache.Z[layer - 1])  # (n, out)
        grads[f"W{layer}"] = step("weight", layer)(grad_Z, cache.A[layer - 1])  # (out, in)
        grads[f"b{layer}"] = step("bias", layer)(grad_Z)  # (out,)
        if layer > 1:
            grad = step("back", layer)(grad_Z, params[f"W{layer}"])  # ∂L/∂A_{l-1}: (n, in)
    return {name: grads[name] for name in model.parameter_names()}


def gradients(
    model: Layered, params: Mapping[str, np.ndarray], X: np.ndarray, swaps: Mapping[Site, Step] | None = None
) -> dict[str, np.ndarray]:
    """Forward then backward on the batch X: what a user's `gradients(params, X)` must return."""
    return backward(model, params, X, forward(model, params, X), swaps)


def autograd_gradients(model: Layered, params: Mapping[str, np.ndarray], X: np.ndarray) -> dict[str, np.ndarray]:
    """The reference: the same model and loss through PyTorch autograd in float64."""
    import torch  # lazy: only the reference needs torch
    import torch.nn.functional as F

    theta = {name: torch.tensor(a, dtype=torch.float64, requires_grad=True) for name, a in params.items()}
    x = torch.tensor(X, dtype=torch.float64)
    a = x
    for layer in range(1, model.n_layers + 1):
        z = a @ theta[f"W{layer}"].T + theta[f"b{layer}"]
        a = torch.relu(z) if layer < model.n_layers or model.output == "relu" else z  # the last z: logits
    if model.output == "relu":
        value = ((x - a) ** 2).sum() / x.shape[0]
    else:
        value = F.binary_cross_entropy_with_logits(a, x, reduction="sum") / x.shape[0]
    value.backward()
    return {name: theta[name].grad.numpy() for name in model.parameter_names()}
