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

# The correct formula of each equation of docs/gradients.md, as the diagnosis quotes it.
FIXES = {
    "(G1)": "G_X̂ = (2/n)(X̂ − X)",
    "(G2)": "G_Z2 = G_X̂ ⊙ [Z2 > 0]",
    "(G3)": "G_W2 = G_Z2ᵀ H",
    "(G4)": "G_b2 = Σᵢ G_Z2[i, :] (a sum over the batch)",
    "(G5)": "G_H = G_Z2 W2",
    "(G6)": "G_Z1 = G_H ⊙ [Z1 > 0]",
    "(G7)": "G_W1 = G_Z1ᵀ X",
    "(G8)": "G_b1 = Σᵢ G_Z1[i, :] (a sum over the batch)",
    "(B1)": "G_Z2 = (1/n)(X̂ − X), the sigmoid's derivative already cancelled",
    "(D1)": "G_A4 = (2/n)(X̂ − X)",
    "(D2)": "G_Zl = G_Al ⊙ [Zl > 0], for every layer l",
    "(D3)": "G_Wl = G_Zlᵀ A(l−1)",
    "(D4)": "G_bl = Σᵢ G_Zl[i, :] (a sum over the batch)",
    "(D5)": "G_A(l−1) = G_Zl Wl",
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


@dataclass(frozen=True)
class Mistake:
    """One classic mistake: its name, what it does wrong, and the changed step at each site."""

    name: str
    description: str
    changes: Mapping[Site, Change]

    def swaps(self, model: Layered) -> dict[Site, Step]:
        """Site → the mistaken step, ready for `layered.backward`."""
        return {site: change(correct_step(model, site)) for site, change in self.changes.items()}

    def equations(self, model: Layered) -> list[str]:
        """The equations that fix it, in backward order, each once."""
        order = {"loss": 0, "act": 1, "weight": 2, "bias": 3, "back": 4}
        sites = sorted(self.changes, key=lambda site: (-site[1], order[site[0]]))
        return list(dict.fromkeys(equation(model, site) for site in sites))

    def fix(self, model: Layered) -> str:
        """'(G2) of docs/gradients.md: G_Z2 = G_X̂ ⊙ [Z2 > 0]', and so on for each equation."""
        return "; ".join(f"{tag} of docs/gradients.md: {FIXES[tag]}" for tag in self.equations(model))


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


def _loss_mistakes(model: Layered) -> list[Mistake]:
    top = model.n_layers
    if model.output == "sigmoid":
        return [
            Mistake(
                "sigmoid derivative applied again",
                "the output step multiplies (1/n)(X̂ − X) by X̂(1 − X̂), which the cross-entropy had already cancelled",
                {("act", top): _sigmoid_twice},
            ),
            Mistake(
                "sigmoid derivative forgotten",
                "the gradient with respect to X̂, (X̂ − X)/(n X̂(1 − X̂)), is "
                "used as the gradient with respect to the logits Z2",
                {("loss", top): _sigmoid_forgotten},
            ),
            Mistake(
                "squared-error gradient",
                "2(X̂ − X)/n, the squared error's gradient, is used for the cross-entropy's (X̂ − X)/n",
                {("loss", top): _double},
            ),
            Mistake(
                "1/n missing",
                "the batch mean's 1/n is missing, so every gradient is n times too large",
                {("loss", top): _times_n},
            ),
            Mistake("sign flipped", "the residual is X − X̂ instead of X̂ − X", {("loss", top): _negate}),
        ]
    return [
        Mistake(
            "−2 instead of the residual",
            "a constant −2 (over n) stands where 2(X̂ − X) belongs",
            {("loss", top): _minus_two},
        ),
        Mistake(
            "1/n missing",
            "the batch mean's 1/n is missing, so every gradient is n times too large",
            {("loss", top): _times_n},
        ),
        Mistake("factor 2 missing", "the 2 of the square's derivative is missing", {("loss", top): _halve}),
        Mistake("sign flipped", "the residual is X − X̂ instead of X̂ − X", {("loss", top): _negate}),
        Mistake(
            "output mask dropped",
            "the output ReLU's mask [Z > 0] is missing, so gradient flows through outputs clipped to 0",
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
            "every hidden ReLU's mask [Z > 0] is missing",
            lambda layer: f"hidden mask {layer} dropped" if len(layers) > 2 else "hidden mask dropped",
            lambda layer: (
                f"the mask [Z{layer} > 0] of hidden layer {layer} is missing, so gradient flows through dead units"
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
            lambda layer: f"the gradient of b{layer} is a mean over the batch, not a sum",
        ),
        *_per_layer(
            model,
            "weight",
            layers,
            _weight_transposed,
            "weight gradients transposed",
            "every weight gradient is computed as Aᵀ G_Z instead of G_Zᵀ A",
            lambda layer: f"W{layer} gradient transposed",
            lambda layer: f"the gradient of W{layer} is A{layer - 1}ᵀ G_Z{layer} instead of G_Z{layer}ᵀ A{layer - 1}",
        ),
        *_per_layer(
            model,
            "back",
            layers[1:],
            _back_transposed,
            "weights transposed going back",
            "the gradient is passed down through Wᵀ instead of W at every layer",
            lambda layer: f"W{layer} transposed going back",
            lambda layer: (
                f"the gradient passed below layer {layer} is G_Z{layer} W{layer}ᵀ instead of G_Z{layer} W{layer}"
            ),
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
