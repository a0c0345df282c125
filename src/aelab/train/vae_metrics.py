"""Test-set figures of a variational model: the ELBO and its parts, the KL per code dimension, active dimensions.

The ELBO is estimated with one sample of z per image, drawn from the model's fixed eval-mode noise
(models/variational.py), so the same model gives the same number every time.
"""

from __future__ import annotations

import torch

from aelab.objectives import VariationalObjective

ACTIVITY_THRESHOLD = 0.01  # Burda, Grosse & Salakhutdinov 2016, §5.2: unit u is active if Cov_x(E_q[u]) > 0.01


@torch.no_grad()
def variational_metrics(
    model: torch.nn.Module, target: torch.Tensor, inputs: torch.Tensor | None = None, batch_size: int = 2_000
) -> dict[str, float | int | list[float]]:
    """elbo (nats per image, higher is better), reconstruction and kl (their parts, β = 1), kl_per_dim (k,),
    code_variance (k,: the variance over the images of each dimension's posterior mean) and active_dims."""
    model.eval()
    inputs = target if inputs is None else inputs
    objective = VariationalObjective(beta=1.0)
    sums = {"reconstruction": 0.0, "kl": 0.0, "kl_per_dim": 0.0}
    means = []
    for i in range(0, len(target), batch_size):
        logits, code = model(inputs[i : i + batch_size])
        _, parts = objective(logits, code, target[i : i + batch_size])
        for name in sums:
            sums[name] = sums[name] + parts[name].double() * len(logits)
        means.append(code.mean)
    variance = torch.cat(means).double().var(dim=0, unbiased=False)
    out = {name: value / len(target) for name, value in sums.items()}
    return {
        "elbo": -float(out["reconstruction"] + out["kl"]),
        "reconstruction": float(out["reconstruction"]),
        "kl": float(out["kl"]),
        "kl_per_dim": out["kl_per_dim"].tolist(),
        "code_variance": variance.tolist(),
        "active_dims": int((variance > ACTIVITY_THRESHOLD).sum()),
    }
