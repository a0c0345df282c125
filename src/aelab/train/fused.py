"""The fast path: one training step of a dense autoencoder written out by hand, without autograd.

At batch 32 the study's models do ~1 MFLOP per matrix product, so a step's time is mostly
framework overhead: autograd's graph, the optimiser's per-parameter bookkeeping, fresh allocations,
a dozen small elementwise kernels, and the Python between them. Here every buffer is allocated
once, the backward pass is the chain rule of docs/gradients.md with BCE-from-logits at the output
(∂L/∂z = (σ(z) − x)/(b·D)), and Adam updates all parameters as one flat buffer. Three ways to run
the same arithmetic, fastest first:
  - the whole step in one compiled call (`aelab_dense_step` in native/kernels.c), its products by
    the BLAS inside PyTorch — when the kernels build and that BLAS exports `sgemm_` (x86 wheels);
  - the compiled kernels for the elementwise work between PyTorch's products, called from Python;
  - PyTorch operations only (no C compiler, or AELAB_NATIVE=0).
The autograd `Trainer.step` stays the reference; tests/test_fused.py checks that every path trains
to the same weights.
"""

from __future__ import annotations

import ctypes
import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.dense import DenseAutoencoder
from aelab.native.build import load as load_native

threshold_backward = torch.ops.aten.threshold_backward.grad_input  # g·[h > 0] into a given buffer


class FlatAdam:
    """Adam over one flat parameter buffer, with torch.optim.Adam's formulas and state_dict layout (one 'param').

    The step count is a Python int (no tensor op per step); the compiled kernel does the update
    in one pass, else `torch._fused_adam_` (the kernel behind `torch.optim.Adam(fused=True)`).
    The compiled kernel takes segment tables (starts, lengths): one segment, the whole buffer, or
    two halves for two threads (segments 1 and 2).
    """

    def __init__(self, flat: torch.Tensor, grad: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-7,
                 native: ctypes.CDLL | None = None):
        self.flat, self.grad = flat, grad
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)
        self.steps = 0
        self.native = native
        n, cut = flat.numel(), flat.numel() // 2
        self.segments = [segment(0, n), segment(0, cut), segment(cut, n - cut)]  # whole; first half; second half
        self.buffers = [t.data_ptr() for t in (flat, grad, self.exp_avg, self.exp_avg_sq)]

    def advance(self) -> tuple[float, float, float, float, float]:
        """Count one step; return what the compiled update needs: β1, β2, ε, lr/(1 − β1ᵗ), √(1 − β2ᵗ)."""
        self.steps += 1
        beta1, beta2 = self.betas
        return beta1, beta2, self.eps, self.lr / (1 - beta1 ** self.steps), math.sqrt(1 - beta2 ** self.steps)

    def step(self) -> None:
        if self.native is not None:
            self.update(0, self.advance())
            return
        self.steps += 1
        beta1, beta2 = self.betas
        torch._fused_adam_([self.flat], [self.grad], [self.exp_avg], [self.exp_avg_sq], [],
                           [torch.tensor(float(self.steps))], lr=self.lr, beta1=beta1, beta2=beta2,
                           weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False)

    def update(self, segment: int, scalars: tuple) -> None:
        """The compiled update of `segments[segment]` (0: all; 1, 2: the halves), with `advance`'s scalars."""
        starts, lengths = self.segments[segment]
        self.native.aelab_adam(*self.buffers, starts.data_ptr(), lengths.data_ptr(), len(starts), *scalars)

    def state_dict(self) -> dict:
        return {"state": {0: {"step": torch.tensor(float(self.steps)), "exp_avg": self.exp_avg,
                              "exp_avg_sq": self.exp_avg_sq}},
                "param_groups": [{"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "params": [0]}]}

    def load_state_dict(self, state: dict) -> None:
        slots = state["state"][0]
        if slots["exp_avg"].shape != self.flat.shape:
            raise RuntimeError(f"optimiser state of {tuple(slots['exp_avg'].shape)} values, expected {tuple(self.flat.shape)}")
        self.exp_avg.copy_(slots["exp_avg"]), self.exp_avg_sq.copy_(slots["exp_avg_sq"])
        self.steps = int(slots["step"].item())


def pointer_array(tensors: list[torch.Tensor | None]) -> ctypes.Array:
    """A C array of the tensors' data pointers (None: a null pointer), for the compiled step's arguments.
    The caller keeps it (and the tensors) alive as long as the compiled code may read it."""
    return (ctypes.c_void_p * len(tensors))(*(0 if t is None else t.data_ptr() for t in tensors))


def segment(start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A one-segment table (starts, lengths) for the compiled Adam."""
    return torch.tensor([start], dtype=torch.int64), torch.tensor([length], dtype=torch.int64)


def flatten_parameters(model: nn.Module, transposed: set[int]) -> torch.Tensor:
    """Move every parameter into one contiguous buffer; each parameter becomes a view of it.

    Parameters whose id is in `transposed` are stored as their transpose (a (n_in, n_out) block)
    and viewed back as (n_out, n_in): for the first layer, x·W with W stored (n_in, n_out) is about
    3× faster than with W stored (n_out, n_in) on this machine's BLAS (17.5 µs against 58.6 µs per
    32×784×32 product, one thread, measured 2026-11-27).
    """
    params = list(model.parameters())
    flat = torch.cat([(p.detach().T if id(p) in transposed else p.detach()).reshape(-1) for p in params])
    offset = 0
    for p in params:
        block = flat[offset:offset + p.numel()]
        p.data = block.view(p.shape[1], p.shape[0]).T if id(p) in transposed else block.view_as(p)
        offset += p.numel()
    return flat


class FusedDenseStep:
    """Replaces `Trainer.step` for a `DenseAutoencoder` trained on BCE (+ optional L1 on the code).

    Call with (target (b, D), inputs (b, D) or None); returns (loss, parts) like the autograd step,
    as Python floats (the compiled path) or 0-d tensors (the PyTorch path).
    `native=False` forces the PyTorch kernels (the compiled ones are used when they build).
    """

    def __init__(self, model: DenseAutoencoder, learning_rate: float, l1: float = 0.0, l1_reduction: str = "mean",
                 native: bool = True, whole_step: bool = True):
        self.layers = [m for m in model.modules() if isinstance(m, nn.Linear)]  # encoder, then decoder
        self.code_layer = len([m for m in model.encoder if isinstance(m, nn.Linear)]) - 1
        self.l1, self.l1_reduction = l1, l1_reduction
        self.native = load_native() if native else None
        self.whole_step = whole_step  # with the compiled kernels: the whole step in one call when the BLAS is reachable
        flat = flatten_parameters(model, transposed={id(self.layers[0].weight)})
        self.grad = torch.zeros_like(flat)
        self.grads = [(self.grad_view(layer.weight, flat), self.grad_view(layer.bias, flat)) for layer in self.layers]
        self.optimizer = FlatAdam(flat, self.grad, learning_rate, native=self.native)
        self.buffers: dict[int, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
        self.loss = (ctypes.c_double * 1)()
        self.code_sum = ctypes.c_double()
        self.plans: dict[int, SimpleNamespace] = {}

    def grad_view(self, param: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        """The slice of the flat gradient buffer that belongs to `param`, in the same layout."""
        offset = (param.data_ptr() - flat.data_ptr()) // flat.element_size()
        return self.grad[offset:offset + param.numel()].as_strided(param.shape, param.stride())

    def activations(self, batch: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-layer outputs for this batch size (and one more for ∂loss/∂logits), and per hidden layer
        a buffer for ∂loss/∂h; allocated once (the last batch may be smaller)."""
        if batch not in self.buffers:
            outputs = [torch.empty(batch, layer.out_features) for layer in self.layers]
            outputs.append(torch.empty(batch, self.layers[-1].out_features))
            self.buffers[batch] = outputs, [torch.empty(batch, layer.out_features) for layer in self.layers[:-1]]
        return self.buffers[batch]

    def l1_gradient(self, batch: int) -> float:
        """∂(L1 term)/∂h on the code: w·sign(h) = w where h > 0 (the ReLU mask zeroes the rest)."""
        return self.l1 / batch if self.l1_reduction == "mean" else self.l1

    @torch.no_grad()
    def __call__(self, target: torch.Tensor, inputs: torch.Tensor | None = None):
        if self.native is not None:
            return self.native_step(target.contiguous(), None if inputs is None else inputs.contiguous())
        x = target if inputs is None else inputs
        hs, g_hidden = self.activations(len(target))
        h = x
        for i, layer in enumerate(self.layers):  # forward: h_i = relu(h_{i−1} W_iᵀ + b_i), logits in hs[-2]
            torch.addmm(layer.bias, h, layer.weight.T, out=hs[i])
            if i < len(self.layers) - 1:
                hs[i].clamp_min_(0.0)
            h = hs[i]
        parts = {"bce": self.bce_and_output_gradient(hs[-2], target, hs[-1])}  # hs[-1]: ∂bce/∂logits
        self.backward(x, hs, g_hidden, len(target))
        if self.l1 > 0:
            parts["l1"] = self.l1 * (hs[self.code_layer].sum() / (len(target) if self.l1_reduction == "mean" else 1))
        self.optimizer.step()
        return (parts["bce"] + parts["l1"] if self.l1 > 0 else parts["bce"]), parts

    def native_step(self, target: torch.Tensor, inputs: torch.Tensor | None) -> tuple[float, dict[str, float]]:
        """The same step with the compiled kernels between the products; every operand is prepared
        once per batch size (`native_plan`), so a step is 2 products per layer plus 1 per layer
        but the first, and one compiled pass after each."""
        x = target if inputs is None else inputs
        batch = len(target)
        plan = self.plans.get(batch) or self.native_plan(batch)
        if plan.whole_step is not None:  # everything in one compiled call, products included
            loss = self.native.aelab_dense_step(plan.n_layers, plan.widths_ptr, batch, x.data_ptr(), target.data_ptr(),
                                                *plan.whole_step, *self.optimizer.advance())
            return self.result(loss / plan.n_values, self.code_sum.value, batch)
        lib, h, code_sum = self.native, x, 0.0
        for weight, out, out_ptr, bias_ptr, cols, is_code in plan.hidden:  # h_i = relu(h_{i−1} W_iᵀ + b_i)
            torch.mm(h, weight, out=out)
            total = lib.aelab_bias_relu(out_ptr, bias_ptr, 1, batch, cols)
            code_sum = total if is_code else code_sum
            h = out
        torch.mm(h, plan.out_weight, out=plan.logits)  # + the output bias, added in the loss kernel
        lib.aelab_bce_output(plan.logits_ptr, target.data_ptr(), 1, batch, plan.n_out, plan.out_bias_ptr,
                             1.0 / plan.n_values, plan.grad_ptr, plan.out_bias_grad_ptr, self.loss, None)
        for g_t, below, grad_w, g, weight, g_below, g_below_ptr, below_ptr, cols, add, bias_grad_ptr in plan.backward:
            torch.mm(g_t, below, out=grad_w)  # ∂W_i = gᵀ h_{i−1}  (out, b)(b, in)
            torch.mm(g, weight, out=g_below)  # ∂h_{i−1} = g W_i
            lib.aelab_relu_backward(g_below_ptr, below_ptr, 1, batch, cols, add, bias_grad_ptr)  # relu′, ∂b_{i−1}
        torch.mm(x.T, plan.g_first, out=plan.first_grad_t)  # first layer, stored (in, out): xᵀ g
        self.optimizer.step()
        return self.result(self.loss[0] / plan.n_values, code_sum, batch)

    def result(self, bce: float, code_sum: float, batch: int) -> tuple[float, dict[str, float]]:
        """(loss, parts) of a compiled step from its mean BCE and the sum of the code's activations."""
        if self.l1 > 0:
            l1 = self.l1 * code_sum / (batch if self.l1_reduction == "mean" else 1)
            return bce + l1, {"bce": bce, "l1": l1}
        return bce, {"bce": bce}

    @torch.no_grad()
    def evaluate(self, target: torch.Tensor, inputs: torch.Tensor | None, batch_size: int) -> float:
        """Mean objective over `target` (the model sees `inputs` if given), chunk by chunk as
        `Trainer.evaluate` computes it, with the compiled loss (0.04 s against 0.11–0.18 s with
        PyTorch's on a 10,000-image test set). Only for the compiled path."""
        lib, total = self.native, 0.0
        for start in range(0, len(target), batch_size):
            clean = target[start:start + batch_size].contiguous()
            h = clean if inputs is None else inputs[start:start + batch_size].contiguous()
            code_sum = 0.0
            for i, layer in enumerate(self.layers[:-1]):
                h = torch.mm(h, layer.weight.T)
                total_h = lib.aelab_bias_relu(h.data_ptr(), layer.bias.data_ptr(), 1, len(h), h.shape[1])
                code_sum = total_h if i == self.code_layer else code_sum
            z = torch.mm(h, self.layers[-1].weight.T)
            lib.aelab_bce_sums(z.data_ptr(), clean.data_ptr(), self.layers[-1].bias.data_ptr(), 1, len(z), z.shape[1],
                               self.loss, None)
            loss = self.loss[0] / z.numel()
            if self.l1 > 0:
                loss += self.l1 * code_sum / (len(z) if self.l1_reduction == "mean" else 1)
            total += loss * len(z)
        return total / len(target)

    def native_plan(self, batch: int) -> SimpleNamespace:
        """Every operand of `native_step` for this batch size: buffers, weight views, raw pointers."""
        hs, g_hidden = self.activations(batch)
        layers, last = self.layers, len(self.layers) - 1
        ptr = torch.Tensor.data_ptr
        hidden = [(layer.weight.T, hs[i], ptr(hs[i]), ptr(layer.bias), layer.out_features, i == self.code_layer)
                  for i, layer in enumerate(layers[:-1])]
        grads = [hs[-1]] + g_hidden[::-1]  # ∂loss/∂(pre-activation) of layers last, last−1, …, 0
        backward = []
        for k, i in enumerate(range(last, 0, -1)):
            add = self.l1_gradient(batch) if i - 1 == self.code_layer and self.l1 > 0 else 0.0
            backward.append((grads[k].T, hs[i - 1], self.grads[i][0], grads[k], layers[i].weight, g_hidden[i - 1],
                             ptr(g_hidden[i - 1]), ptr(hs[i - 1]), layers[i].in_features, add, ptr(self.grads[i - 1][1])))
        plan = SimpleNamespace(hidden=hidden, backward=backward, out_weight=layers[-1].weight.T, logits=hs[-2],
                               logits_ptr=ptr(hs[-2]), n_out=layers[-1].out_features, n_values=batch * layers[-1].out_features,
                               out_bias_ptr=ptr(layers[-1].bias), grad_ptr=ptr(hs[-1]),
                               out_bias_grad_ptr=ptr(self.grads[-1][1]), g_first=grads[-1], first_grad_t=self.grads[0][0].T)
        whole = self.whole_step and self.native.has_gemm
        plan.whole_step = self.whole_step_arguments(plan, hs, g_hidden, batch) if whole else None
        self.plans[batch] = plan
        return plan

    def whole_step_arguments(self, plan: SimpleNamespace, hs: list[torch.Tensor], g_hidden: list[torch.Tensor],
                             batch: int) -> tuple:
        """The fixed arguments of `aelab_dense_step` for this batch size (native/kernels.c), in its order
        after (layers, widths, batch, x, target) and before Adam's per-step scalars."""
        layers = self.layers
        plan.n_layers = len(layers)
        plan.widths = torch.tensor([layers[0].in_features] + [layer.out_features for layer in layers], dtype=torch.int64)
        plan.widths_ptr = plan.widths.data_ptr()
        add = self.l1_gradient(batch) if self.l1 > 0 else 0.0
        opt = self.optimizer
        plan.arrays = [pointer_array([layer.weight for layer in layers]), pointer_array([layer.bias for layer in layers]),
                       pointer_array([w for w, _ in self.grads]), pointer_array([b for _, b in self.grads]),
                       pointer_array(hs[:-1]), pointer_array(g_hidden + [hs[-1]])]  # kept alive with the plan
        starts, lengths = opt.segments[0]
        return (*plan.arrays, self.code_layer, add, ctypes.byref(self.code_sum), *opt.buffers, starts.data_ptr(),
                lengths.data_ptr(), len(starts))

    @staticmethod
    def bce_and_output_gradient(z: torch.Tensor, target: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """Mean BCE of logits `z` against `target`; ∂BCE/∂z = (σ(z) − x)/(b·D) is written into `grad`.

        BCE = softplus(z) − x·z = (1 − x)·z − log σ(z), so its sum is Σz − x·z − Σ log σ(z): two
        reductions and one log on the σ(z) the gradient needs anyway, about 3× cheaper than a
        log-sigmoid pass. It is exact while σ(z) is a normal float; when a logit is so negative
        (below about −87) that σ(z) underflows to 0 — MNIST's blank background drives logits there
        after a few epochs — the sum becomes inf and the exact log-sigmoid formula is used instead.
        """
        n = target.numel()
        linear = z.sum() - torch.dot(target.reshape(-1), z.reshape(-1))
        p = torch.sigmoid(z, out=grad)
        bce = (linear - torch.log(p).sum()) / n
        if not torch.isfinite(bce):
            bce = F.binary_cross_entropy_with_logits(z, target)
        p.sub_(target).mul_(1.0 / n)
        return bce

    def backward(self, x: torch.Tensor, hs: list[torch.Tensor], g_hidden: list[torch.Tensor], batch: int) -> None:
        """Fill the flat gradient buffer, layer by layer from the output (docs/gradients.md (G3)–(G8))."""
        g = hs[-1]
        for i in range(len(self.layers) - 1, -1, -1):
            below = x if i == 0 else hs[i - 1]
            grad_w, grad_b = self.grads[i]
            if grad_w.T.is_contiguous():  # stored (n_in, n_out): write Wᵀ's gradient, belowᵀ g
                torch.mm(below.T, g, out=grad_w.T)
            else:
                torch.mm(g.T, below, out=grad_w)  # (out, b)(b, in)
            torch.sum(g, dim=0, out=grad_b)  # bias: summed over the batch
            if i == 0:
                break
            g_below = torch.mm(g, self.layers[i].weight, out=g_hidden[i - 1])  # (b, out)(out, in)
            if i - 1 == self.code_layer and self.l1 > 0:  # ∂(w·Σ|h|)/∂h = w·sign(h); h ≥ 0, the mask keeps h > 0
                g_below.add_(self.l1_gradient(batch))
            threshold_backward(g_below, below, 0.0, grad_input=g_below)  # relu′: zero where h = 0
            g = g_below
