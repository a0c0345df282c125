"""The fast path for a sweep: one hand-written step for every model of a `BatchedDenseAutoencoder`.

The same chain rule as train/fused.py, batched over models with `bmm`. The masks of the autograd
forward are not needed: a padded code unit has zero weights in and out, so its activation is
relu(0) = 0, every gradient that touches it is exactly 0, and Adam (m = v = 0) leaves it at 0.
The first layer reads the one shared input, so it is one GEMM over all models' units, with its
weights stored as (n_in, models·units) — the fast layout on this BLAS (see train/fused.py).
Between the products, the compiled kernels of native/kernels.c do the elementwise work for all
models in one pass each (PyTorch kernels when no C compiler is found).
"""

from __future__ import annotations

import ctypes
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from aelab.models.batched import BatchedDenseAutoencoder
from aelab.native.build import load as load_native
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


def real_entries(model: BatchedDenseAutoencoder, flat: torch.Tensor) -> torch.Tensor:
    """A boolean mask over the flat buffer: False where an entry is code padding (held at zero)."""
    live = torch.ones(flat.numel(), dtype=torch.bool)
    code = model.code_mask.bool()  # (M, width): True for model m's k_m code units
    for i, (weight, bias) in enumerate(zip(model.weights, model.biases)):
        masks = {}
        if i == model.code_layer:  # rows of the padded code units, and their biases
            masks = {weight: code[:, :, None].expand(weight.shape), bias: code}
        elif i == model.code_layer + 1:  # columns reading the padded code units
            masks = {weight: code[:, None, :].expand(weight.shape)}
        for param, mask in masks.items():
            offset = (param.data_ptr() - flat.data_ptr()) // flat.element_size()
            live.as_strided(param.shape, param.stride(), offset).copy_(mask)
    return live


class FusedBatchedStep:
    """Replaces `Trainer.step` for a sweep: (target (b, D), inputs) → (Σ_m BCE_m, {"bce": (M,), "mse": (M,)})."""

    def __init__(self, model: BatchedDenseAutoencoder, learning_rate: float, native: bool = True):
        self.model = model
        self.native = load_native() if native else None
        flat, self.grads, grad = flatten_batched(model)
        self.optimizer = FlatAdam(flat, grad, learning_rate, native=self.native, live=real_entries(model, flat))
        self.buffers: dict[int, list[torch.Tensor]] = {}
        self.plans: dict[int, SimpleNamespace] = {}
        n_models = len(model.code_sizes)
        self.loss, self.sq = (ctypes.c_double * n_models)(), (ctypes.c_double * n_models)()

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
        if self.native is not None:
            return self.native_step(target.contiguous(), None if inputs is None else inputs.contiguous())
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

    def native_step(self, target: torch.Tensor, inputs: torch.Tensor | None) -> tuple[float, dict[str, torch.Tensor]]:
        """The same step with the compiled kernels between the products, operands prepared once per batch size."""
        x = target if inputs is None else inputs
        batch = len(target)
        plan = self.plans.get(batch) or self.native_plan(batch)
        lib = self.native
        torch.mm(x, plan.first_weight, out=plan.first)  # one product for every model's first layer
        lib.aelab_bias_relu(plan.first_ptr, plan.first_bias_ptr, 1, batch, plan.first_width)
        plan.hs[0].copy_(plan.first_by_model)  # (b, M·u) → (M, b, u)
        for h_below, weight, out, out_ptr, bias_ptr, cols in plan.hidden:  # h_i = relu(h_{i−1} W_iᵀ + b_i)
            torch.bmm(h_below, weight, out=out)
            lib.aelab_bias_relu(out_ptr, bias_ptr, plan.n_models, batch, cols)
        torch.bmm(plan.hs[-2], plan.out_weight, out=plan.hs[-1])  # logits before the output bias
        lib.aelab_bce_output(plan.logits_ptr, target.data_ptr(), plan.n_models, batch, plan.n_out, plan.out_bias_ptr,
                             1.0 / plan.n_values, plan.grad_ptr, plan.out_bias_grad_ptr, self.loss, self.sq)
        for g_t, below, grad_w, g, weight, g_below, g_below_ptr, below_ptr, cols, bias_grad_ptr in plan.backward:
            torch.bmm(g_t, below, out=grad_w)  # (M, out, b)(M, b, in)
            torch.bmm(g, weight, out=g_below)  # (M, b, out)(M, out, in)
            lib.aelab_relu_backward(g_below_ptr, below_ptr, plan.n_models, batch, cols, 0.0, bias_grad_ptr)
        plan.g_first_by_model.copy_(plan.g_code)  # (M, b, u) → (b, M·u)
        torch.mm(x.T, plan.g_first, out=plan.first_grad)
        self.optimizer.step()
        bce = torch.tensor(self.loss[:], dtype=torch.float64) / plan.n_values
        mse = torch.tensor(self.sq[:], dtype=torch.float64) / plan.n_values
        return bce.sum().item(), {"bce": bce, "mse": mse}

    def native_plan(self, batch: int) -> SimpleNamespace:
        """Every operand of `native_step` for this batch size: buffers, weight views, raw pointers."""
        first, *hs, grad = self.activations(batch)
        weights, biases = self.model.weights, self.model.biases
        n_models, units, n_in = weights[0].shape
        ptr = torch.Tensor.data_ptr
        hidden = [(hs[i - 1], weights[i].transpose(1, 2), hs[i], ptr(hs[i]), ptr(biases[i]), weights[i].shape[1])
                  for i in range(1, len(weights) - 1)]
        g_hidden = [torch.empty_like(h) for h in hs[:-1]]
        grads = [grad] + g_hidden[::-1]  # ∂loss/∂(pre-activation) of layers last, …, 0
        backward = [(grads[k].transpose(1, 2), hs[i - 1], self.grads[i][0], grads[k], weights[i], g_hidden[i - 1],
                     ptr(g_hidden[i - 1]), ptr(hs[i - 1]), weights[i].shape[2], ptr(self.grads[i - 1][1]))
                    for k, i in enumerate(range(len(weights) - 1, 0, -1))]
        g_first = torch.empty(batch, n_models * units)
        plan = SimpleNamespace(
            n_models=n_models, first=first, first_ptr=ptr(first), first_bias_ptr=ptr(biases[0]), first_width=n_models * units,
            first_weight=weights[0].permute(2, 0, 1).reshape(n_in, -1), first_by_model=first.view(batch, n_models, units).transpose(0, 1),
            hs=hs, hidden=hidden, out_weight=weights[-1].transpose(1, 2), logits_ptr=ptr(hs[-1]), n_out=weights[-1].shape[1],
            n_values=batch * weights[-1].shape[1], out_bias_ptr=ptr(biases[-1]), grad_ptr=ptr(grad),
            out_bias_grad_ptr=ptr(self.grads[-1][1]), backward=backward, g_first=g_first,
            g_first_by_model=g_first.view(batch, n_models, units), g_code=g_hidden[0].transpose(0, 1),
            first_grad=self.grads[0][0].permute(2, 0, 1).reshape(n_in, -1))
        self.plans[batch] = plan
        return plan

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
