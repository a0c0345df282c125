"""The fast path for a sweep: one hand-written step for every model of a `BatchedDenseAutoencoder`.

The same chain rule as train/fused.py, batched over models with `bmm`. The masks of the autograd
forward are not needed: a padded code unit has zero weights in and out, so its activation is
relu(0) = 0, every gradient that touches it is exactly 0, and Adam (m = v = 0) leaves it at 0.
The first layer reads the one shared input, so it is one GEMM over all models' units, with its
weights stored as (n_in, models·units) — the fast layout on this BLAS (see train/fused.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aelab.models.batched import BatchedDenseAutoencoder
from aelab.train.fused import FlatAdam, threshold_backward


def flatten_batched(model: BatchedDenseAutoencoder) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """Move all parameters into one flat buffer (first layer's weights stored as (n_in, M·n_out)) and
    return it, the matching (weight, bias) views of a flat gradient buffer per layer, and that buffer.

    The batched twin of `train.fused.flatten_parameters`, whose transpose trick it applies to the
    stacked (M, n_out, n_in) first layer."""
    params = [p for pair in zip(model.weights, model.biases) for p in pair]
    first = model.weights[0]
    n_models, n_out, n_in = first.shape
    blocks = [first.detach().permute(2, 0, 1).reshape(-1)] + [p.detach().reshape(-1) for p in params[1:]]
    flat, grad = torch.cat(blocks), torch.zeros(sum(b.numel() for b in blocks))
    views = []
    offset = 0
    for k, p in enumerate(params):
        for buffer in (flat, grad):
            block = buffer[offset:offset + p.numel()]
            view = block.view(n_in, n_models, n_out).permute(1, 2, 0) if k == 0 else block.view_as(p)
            if buffer is flat:
                p.data = view
            else:
                views.append(view)
        offset += p.numel()
    return flat, list(zip(views[0::2], views[1::2])), grad


class FusedBatchedStep:
    """Replaces `Trainer.step` for a sweep: (target (b, D), inputs) → (Σ_m BCE_m, {"bce": (M,), "mse": (M,)})."""

    def __init__(self, model: BatchedDenseAutoencoder, learning_rate: float):
        self.model = model
        flat, self.grads, grad = flatten_batched(model)
        self.optimizer = FlatAdam(flat, grad, learning_rate)
        self.buffers: dict[int, list[torch.Tensor]] = {}

    def activations(self, batch: int) -> list[torch.Tensor]:
        """(b, M·n_out) for the first layer, (M, b, n_out) for every layer, and ∂loss/∂logits; allocated once."""
        if batch not in self.buffers:
            shapes = [w.shape for w in self.model.weights]
            m = shapes[0][0]
            self.buffers[batch] = ([torch.empty(batch, m * shapes[0][1])] + [torch.empty(m, batch, s[1]) for s in shapes]
                                   + [torch.empty(m, batch, shapes[-1][1])])
        return self.buffers[batch]

    @torch.no_grad()
    def __call__(self, target: torch.Tensor, inputs: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = target if inputs is None else inputs
        first, *hs, grad = self.activations(len(target))
        weights, biases = self.model.weights, self.model.biases
        n_models = weights[0].shape[0]
        torch.addmm(biases[0].reshape(-1), x, weights[0].permute(2, 0, 1).reshape(x.shape[1], -1), out=first)
        first.clamp_min_(0.0)
        hs[0].copy_(first.view(len(x), n_models, -1).transpose(0, 1))  # (b, M·u) → (M, b, u)
        for i in range(1, len(weights)):  # forward: h_i = relu(h_{i−1} W_iᵀ + b_i) per model
            torch.baddbmm(biases[i][:, None, :], hs[i - 1], weights[i].transpose(1, 2), out=hs[i])
            if i < len(weights) - 1:
                hs[i].clamp_min_(0.0)
        bce, mse = self.bce_and_output_gradient(hs[-1], target, grad)
        self.backward(x, hs, grad)
        self.optimizer.step()
        return bce.sum(), {"bce": bce, "mse": mse}

    @staticmethod
    def bce_and_output_gradient(z: torch.Tensor, target: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-model mean BCE and MSE of logits z (M, b, D); ∂(Σ_m BCE_m)/∂z written into `grad`.

        As in train/fused.py: Σ BCE = Σz − x·z − Σ log σ(z), exact unless σ(z) underflows, when the
        log-sigmoid formula is used instead.
        """
        n_models, n = z.shape[0], target.numel()
        linear = z.sum(dim=(1, 2)) - torch.mv(z.view(n_models, -1), target.reshape(-1))
        p = torch.sigmoid(z, out=grad)
        bce = (linear - torch.log(p).sum(dim=(1, 2))) / n
        if not torch.isfinite(bce).all():
            bce = F.binary_cross_entropy_with_logits(z, target.expand_as(z), reduction="none").mean(dim=(1, 2))
        p.sub_(target)
        mse = p.square().mean(dim=(1, 2))
        p.mul_(1.0 / n)
        return bce, mse

    def backward(self, x: torch.Tensor, hs: list[torch.Tensor], g: torch.Tensor) -> None:
        """Fill the flat gradient buffer from the output layer down (docs/gradients.md, per model)."""
        weights = self.model.weights
        for i in range(len(weights) - 1, 0, -1):
            grad_w, grad_b = self.grads[i]
            torch.bmm(g.transpose(1, 2), hs[i - 1], out=grad_w)  # (M, out, b)(M, b, in)
            torch.sum(g, dim=1, out=grad_b)
            g_below = torch.bmm(g, weights[i])  # (M, b, out)(M, out, in)
            g = threshold_backward(g_below, hs[i - 1], 0.0, grad_input=g_below)
        grad_w, grad_b = self.grads[0]
        g_first = g.transpose(0, 1).reshape(len(x), -1)  # (M, b, u) → (b, M·u)
        torch.mm(x.T, g_first, out=grad_w.permute(2, 0, 1).reshape(x.shape[1], -1))
        torch.sum(g_first, dim=0, out=grad_b.view(-1))
