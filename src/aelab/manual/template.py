"""`aelab gradcheck --template`: a skeleton of the user's gradient file — signature, shapes, TODOs.

Generated from the exercise's model, so the shapes and equation numbers cannot drift from what the
grader checks. The forward pass is given (it is not the exercise); every gradient is a TODO that
returns zeros, so the skeleton runs, is graded, and fails until it is filled in.
"""

from __future__ import annotations

from aelab.manual.exercises import Exercise
from aelab.manual.mistakes import equation
from aelab.manual.usercode import FUNCTION

LOSSES = {
    "relu": "L = (1/n) Σᵢ ‖xᵢ − x̂ᵢ‖²  (squared error summed over features, mean over the batch)",
    "sigmoid": "L = −(1/n) Σᵢ Σⱼ [x log x̂ + (1 − x) log(1 − x̂)]  (binary cross-entropy, mean over the batch)",
}


def _shape(exercise: Exercise, name: str) -> str:
    """'(H, D)' for W1 of the shallow exercise, in the exercise's symbols."""
    layer, symbols = int(name[1:]), exercise.widths
    return f"({symbols[layer]}, {symbols[layer - 1]})" if name[0] == "W" else f"({symbols[layer]},)"


def _forward(exercise: Exercise) -> list[str]:
    model, symbols = exercise.model, exercise.widths
    lines, previous = [], "X"
    for layer in range(1, model.n_layers + 1):
        shape = f"(n, {symbols[layer]})"
        activation = "X_hat" if layer == model.n_layers else f"A{layer}"
        lines.append(f"    Z{layer} = {previous} @ W{layer}.T + b{layer}  # {shape}")
        if layer == model.n_layers and model.output == "sigmoid":
            lines.append(f"    {activation} = 1.0 / (1.0 + np.exp(-Z{layer}))  # {shape}, the sigmoid")
        else:
            lines.append(f"    {activation} = np.maximum(Z{layer}, 0.0)  # {shape}, the ReLU")
        previous = activation
    return lines


def _backward_steps(model) -> list[str]:
    """The comment lines that walk the backward pass from the loss down, each naming its equation."""
    top, sigmoid_out = model.n_layers, model.output == "sigmoid"
    steps = [
        f"    #   {equation(model, ('loss', top))} the loss's gradient with respect to "
        + (f"the logits Z{top} (the sigmoid's derivative cancels)" if sigmoid_out else "X_hat")
    ]
    for layer in range(top, 0, -1):
        through = "" if sigmoid_out and layer == top else f"{equation(model, ('act', layer))} back through its ReLU, "
        below = f", then {equation(model, ('back', layer))} down to layer {layer - 1}'s output" if layer > 1 else ""
        steps.append(
            f"    #   layer {layer}: {through}{equation(model, ('weight', layer))} W{layer}, "
            f"{equation(model, ('bias', layer))} b{layer}{below}"
        )
    return steps


def template(exercise: Exercise) -> str:
    """The skeleton file's text for `exercise`."""
    model = exercise.model
    names = model.parameter_names()
    shapes = ", ".join(f"{name} {_shape(exercise, name)}" for name in names)
    top = model.n_layers
    steps = _backward_steps(model)
    todos = [
        f"    d{name} = np.zeros_like({name})  # TODO "
        f"{equation(model, ('weight' if name[0] == 'W' else 'bias', int(name[1:])))}: "
        f"∂L/∂{name}, shape {_shape(exercise, name)}"
        for name in names
    ]
    return "\n".join(
        [
            f'"""My gradients for the {exercise.name} exercise: {exercise.title}.',
            "",
            f"Fill in the TODOs, then check them:  aelab gradcheck --impl my_backprop.py --model {exercise.name}",
            f"The derivation to follow is {exercise.equations} of docs/gradients.md.",
            "",
            f"Shapes: X (n, {exercise.widths[0]}); {shapes}.",
            '"""',
            "",
            "import numpy as np",
            "",
            "",
            f"def {FUNCTION}(params, X):",
            '    """The gradient of the loss for every parameter, each with that parameter\'s shape.',
            "",
            f"    params: dict of float64 arrays by name ({', '.join(names)}); X: (n, "
            f"{exercise.widths[0]}) inputs in [0, 1).",
            f"    {LOSSES[model.output]}",
            '    """',
            *(f"    W{layer}, b{layer} = params['W{layer}'], params['b{layer}']" for layer in range(1, top + 1)),
            "    n = X.shape[0]",
            "",
            "    # The forward pass (given): keep what the backward pass needs.",
            *_forward(exercise),
            "",
            "    # TODO: the backward pass, from the loss down:",
            *steps,
            *todos,
            "    return {" + ", ".join(f"{name!r}: d{name}" for name in names) + "}",
            "",
        ]
    )
