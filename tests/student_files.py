"""Student gradient files, written the way a person writes them, for the grader's tests.

Each classic mistake is written here a second time, independently of the library's catalogue
(aelab.manual.mistakes rebuilds them by swapping step functions; here they are lines of student
code), so a test that the grader names the mistake of a file is not the catalogue checking itself.
"""

from __future__ import annotations

from pathlib import Path

TWO_LAYER = '''import numpy as np


def gradients(params, X):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = X.shape[0]
    Z1 = X @ W1.T + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2.T + b2
    X_hat = {out}
    dZ2 = {dZ2}
    dW2 = {dW2}
    db2 = {db2}
    dA1 = {dA1}
    dZ1 = {dZ1}
    dW1 = {dW1}
    db1 = {db1}
    return {{"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}}
'''

HIDDEN_RIGHT = dict(
    dW2="dZ2.T @ A1",
    db2="dZ2.sum(axis=0)",
    dA1="dZ2 @ W2",
    dZ1="dA1 * (Z1 > 0)",
    dW1="dZ1.T @ X",
    db1="dZ1.sum(axis=0)",
)
HIDDEN_WRONG = {
    "hidden mask dropped": dict(dZ1="dA1"),
    "bias gradients averaged": dict(db2="dZ2.mean(axis=0)", db1="dZ1.mean(axis=0)"),
    "b1 gradient averaged": dict(db1="dZ1.mean(axis=0)"),
    "b2 gradient averaged": dict(db2="dZ2.mean(axis=0)"),
    "weight gradients transposed": dict(dW2="A1.T @ dZ2", dW1="X.T @ dZ1"),
    "W1 gradient transposed": dict(dW1="X.T @ dZ1"),
    "W2 gradient transposed": dict(dW2="A1.T @ dZ2"),
    "W2 transposed going back": dict(dA1="dZ2 @ W2.T"),
}

SHALLOW_RIGHT = dict(out="np.maximum(Z2, 0)", dZ2="2 * (X_hat - X) / n * (Z2 > 0)", **HIDDEN_RIGHT)
SHALLOW_WRONG = {
    "−2 instead of the residual": dict(dZ2="np.full_like(X, -2 / n) * (Z2 > 0)"),
    "1/n missing": dict(dZ2="2 * (X_hat - X) * (Z2 > 0)"),
    "factor 2 missing": dict(dZ2="(X_hat - X) / n * (Z2 > 0)"),
    "sign flipped": dict(dZ2="2 * (X - X_hat) / n * (Z2 > 0)"),
    "output mask dropped": dict(dZ2="2 * (X_hat - X) / n"),
    **HIDDEN_WRONG,
}

BCE_RIGHT = dict(out="1 / (1 + np.exp(-Z2))", dZ2="(X_hat - X) / n", **HIDDEN_RIGHT)
BCE_WRONG = {
    "sigmoid derivative applied again": dict(dZ2="(X_hat - X) / n * X_hat * (1 - X_hat)"),
    "sigmoid derivative forgotten": dict(dZ2="(X_hat - X) / (n * X_hat * (1 - X_hat))"),
    "squared-error gradient": dict(dZ2="2 * (X_hat - X) / n"),
    "1/n missing": dict(dZ2="X_hat - X"),
    "sign flipped": dict(dZ2="(X - X_hat) / n"),
    **HIDDEN_WRONG,
}

DEEP = '''import numpy as np

MASK = {mask}  # per layer: whether the ReLU's mask is applied going back
MEAN = {mean}  # per layer: whether the bias gradient is a mean over the batch
T_WEIGHT = {t_weight}  # per layer: whether the weight gradient is transposed
T_BACK = {t_back}  # per layer: whether W is transposed going back


def gradients(params, X):
    n = X.shape[0]
    A, Z = [X], []
    for l in range(1, 5):
        Z.append(A[-1] @ params[f"W{{l}}"].T + params[f"b{{l}}"])
        A.append(np.maximum(Z[-1], 0))
    X_hat = A[-1]
    grad = {loss}
    out = {{}}
    for l in range(4, 0, -1):
        dZ = grad * (Z[l - 1] > 0) if MASK[l] else grad
        out[f"W{{l}}"] = A[l - 1].T @ dZ if T_WEIGHT[l] else dZ.T @ A[l - 1]
        out[f"b{{l}}"] = dZ.mean(axis=0) if MEAN[l] else dZ.sum(axis=0)
        if l > 1:
            W = params[f"W{{l}}"]
            grad = dZ @ (W.T if T_BACK[l] else W)
    return out
'''
LAYERS = (1, 2, 3, 4)


def _deep_wrong() -> dict[str, dict]:
    wrong = {
        "−2 instead of the residual": dict(loss="np.full_like(X, -2 / n)"),
        "1/n missing": dict(loss="2 * (X_hat - X)"),
        "factor 2 missing": dict(loss="(X_hat - X) / n"),
        "sign flipped": dict(loss="2 * (X - X_hat) / n"),
        "output mask dropped": dict(mask={4}),
        "hidden masks dropped": dict(mask={1, 2, 3}),
        "bias gradients averaged": dict(mean=set(LAYERS)),
        "weight gradients transposed": dict(t_weight=set(LAYERS)),
        "weights transposed going back": dict(t_back={2, 3, 4}),
    }
    for layer in LAYERS:
        if layer < 4:
            wrong[f"hidden mask {layer} dropped"] = dict(mask={layer})
        wrong[f"b{layer} gradient averaged"] = dict(mean={layer})
        wrong[f"W{layer} gradient transposed"] = dict(t_weight={layer})
        if layer > 1:
            wrong[f"W{layer} transposed going back"] = dict(t_back={layer})
    return wrong


DEEP_WRONG = _deep_wrong()


def two_layer_source(right: dict, *changes: dict) -> str:
    """The two-layer file with the given lines changed (several dicts: several mistakes at once)."""
    lines = dict(right)
    for change in changes:
        lines.update(change)
    return TWO_LAYER.format(**lines)


def deep_source(*changes: dict) -> str:
    """The deep file; each change lists the layers where a mask is dropped, a bias averaged, …"""
    merged = {"loss": "2 * (X_hat - X) / n", "mask": set(), "mean": set(), "t_weight": set(), "t_back": set()}
    for change in changes:
        for key, value in change.items():
            merged[key] = value if key == "loss" else merged[key] | value
    flags = {key: {layer: layer in merged[key] for layer in LAYERS} for key in ("mean", "t_weight", "t_back")}
    mask = {layer: layer not in merged["mask"] for layer in LAYERS}
    return DEEP.format(loss=merged["loss"], mask=mask, **flags)


# Gradients right but for one constant factor, as people write them: the loss's mean taken over all n·D
# entries (X.size), as torch.nn.MSELoss() and BCELoss() do; that without the square's 2; 1/n twice; 2 twice.
# Keys: the factor each gives, as the grader's known causes label it (aelab.manual.factors).
SHALLOW_SCALED = {
    "1/D": dict(dZ2="2 * (X_hat - X) / X.size * (Z2 > 0)"),
    "1/(2D)": dict(dZ2="(X_hat - X) / X.size * (Z2 > 0)"),
    "1/n": dict(dZ2="2 * (X_hat - X) / n / n * (Z2 > 0)"),
    "2": dict(dZ2="4 * (X_hat - X) / n * (Z2 > 0)"),
}
BCE_SCALED = {
    "1/D": dict(dZ2="(X_hat - X) / X.size"),
    "1/2": dict(dZ2="(X_hat - X) / (2 * n)"),
}
DEEP_SCALED = {"1/D": dict(loss="2 * (X_hat - X) / X.size")}

SOURCES = {
    "shallow": (lambda *c: two_layer_source(SHALLOW_RIGHT, *c), SHALLOW_WRONG),
    "sigmoid-bce": (lambda *c: two_layer_source(BCE_RIGHT, *c), BCE_WRONG),
    "deep": (deep_source, DEEP_WRONG),
}
SCALED = {"shallow": SHALLOW_SCALED, "sigmoid-bce": BCE_SCALED, "deep": DEEP_SCALED}


def write(folder: Path, name: str, text: str) -> str:
    """Write a student file and return its path as a string."""
    path = folder / name
    path.write_text(text)
    return str(path)
