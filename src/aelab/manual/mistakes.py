"""The classic mistakes of the gradient exercises, each rebuilt from the correct backward pass.

A mistake is a set of backward sites (see `aelab.manual.layered`) and, for each, how the correct
step is changed: a mask dropped, a residual replaced by −2, a factor lost, a product transposed.
Running the layered backward pass with those changes gives exactly the gradients a person who made
the mistake computes, so the grader can recognise it in anyone's code (numbers, not text, are
compared) and name the equation of docs/gradients.md that fixes it.

Each exercise has its own catalogue, built from its model: the sigmoid output has no mask to drop
but a sigmoid derivative to apply twice or forget; the deep model can drop any of its hidden masks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from aelab.manual.layered import Layered, Site, Step, correct_step, sigmoid

Change = Callable[[Step], Step]  # the correct step → the mistaken one

# The correct step of each equation of docs/gradients.md, as the diagnosis quotes it: in the names of the
# template a student fills in (manual/template.py) — A1 for what the docs call H, X_hat for X̂, dW1 for G_W1 —
# with {l} the layer, {out} its output (A{l}, or X_hat on top) and {below} its input (A{l-1}, or X).
FIXES = {
    "(G1)": "dX_hat = 2 * (X_hat - X) / n",
    "(G2)": "dZ{l} = d{out} * (Z{l} > 0)",
    "(G3)": "dW{l} = dZ{l}.T @ {below}",
    "(G4)": "db{l} = dZ{l}.sum(axis=0)",
    "(G5)": "d{below} = dZ{l} @ W{l}",
    "(G6)": "dZ{l} = d{out} * (Z{l} > 0)",
    "(G7)": "dW{l} = dZ{l}.T @ {below}",
    "(G8)": "db{l} = dZ{l}.sum(axis=0)",
    "(B1)": "dZ{l} = (X_hat - X) / n",
    "(D1)": "dX_hat = 2 * (X_hat - X) / n",
    "(D2)": "dZ{l} = d{out} * (Z{l} > 0)",
    "(D3)": "dW{l} = dZ{l}.T @ {below}",
    "(D4)": "db{l} = dZ{l}.sum(axis=0)",
    "(D5)": "d{below} = dZ{l} @ W{l}",
}
_SHALLOW = {
    ("act", 2): "(G2)",
    ("weight", 2): "(G3)",
    ("bias", 2): "(G4)",
    ("back", 2): "(G5)",
    ("act", 1): "(G6)",
    ("weight", 1): "(G7)",
    ("bias", 1): "(G8)",
}
_DEEP = {"loss": "(D1)", "act": "(D2)", "weight": "(D3)", "bias": "(D4)", "back": "(D5)"}


def equation(model: Layered, site: Site) -> str:
    """The tag of the equation of docs/gradients.md that the step at `site` implements."""
    if model.n_layers != 2:
        return _DEEP[site[0]]
    if model.output == "sigmoid" and site in (("loss", 2), ("act", 2)):
        return "(B1)"
    return "(G1)" if site[0] == "loss" else _SHALLOW[site]


def below(layer: int) -> str:
    """The template's name for the input of `layer`: X, A1, A2, …"""
    return "X" if layer == 1 else f"A{layer - 1}"


def output(model: Layered, layer: int) -> str:
    """The template's name for the output of `layer`: A1, A2, …, X_hat on top."""
    return "X_hat" if layer == model.n_layers else f"A{layer}"


def fix_line(model: Layered, site: Site) -> str:
    """'(G3) of docs/gradients.md: dW2 = dZ2.T @ A1': the equation of the step at `site`, in the template's names."""
    tag, layer = equation(model, site), site[1]
    return f"{tag} of docs/gradients.md: " + FIXES[tag].format(l=layer, out=output(model, layer), below=below(layer))


@dataclass(frozen=True)
class Mistake:
    """One classic mistake: its name, what it does wrong, and the changed step at each site."""

    name: str
    description: str
    changes: Mapping[Site, Change]

    def swaps(self, model: Layered) -> dict[Site, Step]:
        """Site → the mistaken step, ready for `layered.backward`."""
        return {site: change(correct_step(model, site)) for site, change in self.changes.items()}

    def sites(self) -> list[Site]:
        """Its sites in backward order: from the top layer down, loss, mask, weight, bias, back."""
        order = {"loss": 0, "act": 1, "weight": 2, "bias": 3, "back": 4}
        return sorted(self.changes, key=lambda site: (-site[1], order[site[0]]))

    def equations(self, model: Layered) -> list[str]:
        """The equations that fix it, in backward order, each once."""
        return list(dict.fromkeys(equation(model, site) for site in self.sites()))

    def fix(self, model: Layered) -> str:
        """'(G6) of docs/gradients.md: dZ1 = dA1 * (Z1 > 0)', and so on for each site, each line once."""
        return "; ".join(dict.fromkeys(fix_line(model, site) for site in self.sites()))


def combine(first: Mistake, second: Mistake) -> Mistake:
    """Both mistakes at once; at a site both change, `second`'s change applies to `first`'s result."""
    changes = dict(first.changes)
    for site, change in second.changes.items():
        changes[site] = (lambda a, b: lambda step: b(a(step)))(changes[site], change) if site in changes else change
    return Mistake(f"{first.name} + {second.name}", f"{first.description}; and {second.description}", changes)


# The changes, one per kind of mistake.
def _drop_mask(step: Step) -> Step:
    return lambda grad, Z: grad


def _minus_two(step: Step) -> Step:
    return lambda X_hat, X: np.full_like(X, -2.0 / X.shape[0])


def _times_n(step: Step) -> Step:
    return lambda X_hat, X: step(X_hat, X) * X.shape[0]


def _halve(step: Step) -> Step:
    return lambda *args: 0.5 * step(*args)


def _double(step: Step) -> Step:
    return lambda *args: 2.0 * step(*args)


def _negate(step: Step) -> Step:
    return lambda *args: -step(*args)


def _mean_over_batch(step: Step) -> Step:
    return lambda grad_Z: step(grad_Z) / grad_Z.shape[0]


def _weight_transposed(step: Step) -> Step:
    return lambda grad_Z, inputs: inputs.T @ grad_Z


def _back_transposed(step: Step) -> Step:
    return lambda grad_Z, W: grad_Z @ W.T


def _sigmoid_twice(step: Step) -> Step:
    return lambda grad, Z: grad * sigmoid(Z) * (1.0 - sigmoid(Z))


def _sigmoid_forgotten(step: Step) -> Step:
    return lambda X_hat, X: step(X_hat, X) / (X_hat * (1.0 - X_hat))


def _back(layer: int) -> str:
    """'dA1 = dZ2 @ W2': the step that passes the gradient below `layer`, in the template's names."""
    return f"d{below(layer)} = dZ{layer} @ W{layer}"


def _per_layer(
    model: Layered,
    kind: str,
    layers: list[int],
    change: Change,
    all_name: str,
    all_text: str,
    one_name: Callable[[int], str],
    one_text: Callable[[int], str],
) -> list[Mistake]:
    """The mistake made at every listed layer at once (when there are several), then at each alone."""
    mistakes = [Mistake(all_name, all_text, {(kind, layer): change for layer in layers})] if len(layers) > 1 else []
    return mistakes + [Mistake(one_name(layer), one_text(layer), {(kind, layer): change}) for layer in layers]


def _sigmoid_loss_mistakes(model: Layered) -> list[Mistake]:
    """The mistakes of (B1), the cross-entropy's gradient through the sigmoid."""
    top = model.n_layers
    return [
        Mistake(
            "sigmoid derivative applied again",
            f"dZ{top} multiplies (X_hat - X) / n by X_hat * (1 - X_hat), the sigmoid's derivative, which the "
            "cross-entropy had already cancelled",
            {("act", top): _sigmoid_twice},
        ),
        Mistake(
            "sigmoid derivative forgotten",
            "the gradient with respect to X_hat, (X_hat - X) / (n * X_hat * (1 - X_hat)), is used as "
            f"the gradient with respect to the logits, dZ{top}",
            {("loss", top): _sigmoid_forgotten},
        ),
        Mistake(
            "squared-error gradient",
            "2 * (X_hat - X) / n, the squared error's gradient, is used for the cross-entropy's (X_hat - X) / n, "
            "so every gradient is 2 times the right one",
            {("loss", top): _double},
        ),
        Mistake(
            "1/n missing",
            "the batch mean's 1/n is missing, so every gradient is n times too large",
            {("loss", top): _times_n},
        ),
        Mistake("sign flipped", "the residual is X - X_hat instead of X_hat - X", {("loss", top): _negate}),
    ]


def _loss_mistakes(model: Layered) -> list[Mistake]:
    """The mistakes of the loss's gradient and the output's mask, (G1)–(G2) or (D1)–(D2)."""
    top = model.n_layers
    if model.output == "sigmoid":
        return _sigmoid_loss_mistakes(model)
    return [
        Mistake(
            "−2 instead of the residual",
            "a constant -2 / n stands where 2 * (X_hat - X) / n belongs",
            {("loss", top): _minus_two},
        ),
        Mistake(
            "1/n missing",
            "the batch mean's 1/n is missing, so every gradient is n times too large",
            {("loss", top): _times_n},
        ),
        Mistake(
            "factor 2 missing",
            "the 2 of the square's derivative is missing, so every gradient is 1/2 of the right one",
            {("loss", top): _halve},
        ),
        Mistake("sign flipped", "the residual is X - X_hat instead of X_hat - X", {("loss", top): _negate}),
        Mistake(
            "output mask dropped",
            f"the output ReLU's mask (Z{top} > 0) is missing, so gradient flows through outputs clipped to 0",
            {("act", top): _drop_mask},
        ),
    ]


def catalogue(model: Layered) -> list[Mistake]:
    """Every single classic mistake for this model, loss-side ones first."""
    layers = list(range(1, model.n_layers + 1))
    return [
        *_loss_mistakes(model),
        *_per_layer(
            model,
            "act",
            layers[:-1],
            _drop_mask,
            "hidden masks dropped",
            "every hidden ReLU's mask is missing: " + ", ".join(f"(Z{layer} > 0)" for layer in layers[:-1]),
            lambda layer: f"hidden mask {layer} dropped" if len(layers) > 2 else "hidden mask dropped",
            lambda layer: (
                f"the mask (Z{layer} > 0) of hidden layer {layer} is missing, so gradient flows through dead units"
            ),
        ),
        *_per_layer(
            model,
            "bias",
            layers,
            _mean_over_batch,
            "bias gradients averaged",
            "every bias gradient is a mean over the batch instead of a sum",
            lambda layer: f"b{layer} gradient averaged",
            lambda layer: f"db{layer} is a mean over the batch, dZ{layer}.mean(axis=0), not a sum",
        ),
        *_per_layer(
            model,
            "weight",
            layers,
            _weight_transposed,
            "weight gradients transposed",
            "every weight gradient is transposed: "
            + ", ".join(f"dW{layer} = {below(layer)}.T @ dZ{layer}" for layer in layers),
            lambda layer: f"W{layer} gradient transposed",
            lambda layer: f"dW{layer} is {below(layer)}.T @ dZ{layer} instead of dZ{layer}.T @ {below(layer)}",
        ),
        *_per_layer(
            model,
            "back",
            layers[1:],
            _back_transposed,
            "weights transposed going back",
            "the gradient is passed down through the transposed weights at every layer: "
            + ", ".join(f"{_back(layer)}.T" for layer in layers[1:]),
            lambda layer: f"W{layer} transposed going back",
            lambda layer: f"the gradient passed below layer {layer} is {_back(layer)}.T instead of {_back(layer)}",
        ),
    ]


def pairs(mistakes: list[Mistake]) -> list[tuple[Mistake, Mistake]]:
    """The pairs of mistakes that can be made together: no shared site, except the loss's, where
    a scaling can follow a replacement (−2 with 1/n missing gives −2)."""
    return [
        (first, second)
        for first, second in combinations(mistakes, 2)
        if all(kind == "loss" for kind, _ in set(first.changes) & set(second.changes))
    ]
