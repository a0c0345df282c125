"""The fast path for a sweep: one hand-written step for every model of a `BatchedDenseAutoencoder`.

The same chain rule as train/fused.py, for M models at once. All parameters live in one flat
buffer (`flatten_models`), grouped by layer: the first layers of all models as one (n_in, Σ n_out)
block, so that the shared input needs one GEMM for every model; then, per later layer, each
model's weight block and the models' biases side by side, so that the output layer's M biases are
one (M, D) array the loss kernel reads in one pass. Nothing is padded: Adam updates exactly the
sweep's parameters. As for one model (train/fused.py), the whole step runs in compiled calls
where it can (`aelab_sweep_part`, on two threads when it has them); otherwise the compiled kernels do the elementwise work between
PyTorch's products, or `TorchKernels` the same arithmetic in PyTorch where no C compiler is found.
"""

from __future__ import annotations

import ctypes
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from types import SimpleNamespace
from typing import Callable

import torch
import torch.nn.functional as F

from aelab.models.batched import BatchedDenseAutoencoder
from aelab.native.build import load as load_native
from aelab.train.fused import FlatAdam, pointer_array


def flatten_models(model: BatchedDenseAutoencoder) -> tuple[torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """Move every parameter into one flat buffer (layout above); return it, a flat gradient buffer
    of the same layout, and each parameter's gradient view (by the parameter's id)."""
    layers = [model.layers(m) for m in range(len(model.models))]  # [model][layer]
    total = sum(model.n_parameters)
    flat, grad = torch.empty(total), torch.zeros(total)
    grads: dict[int, torch.Tensor] = {}
    offset = 0

    def place(param: torch.Tensor, views: tuple[torch.Tensor, torch.Tensor]) -> None:
        views[0].copy_(param.detach())
        param.data, grads[id(param)] = views

    first = [ls[0] for ls in layers]
    n_in, width = first[0].in_features, sum(f.out_features for f in first)
    blocks = [b[offset:offset + n_in * width].view(n_in, width) for b in (flat, grad)]  # stored (n_in, Σ n_out)
    offset += n_in * width
    biases = [b[offset:offset + width] for b in (flat, grad)]
    offset += width
    column = 0
    for f in first:
        cols = slice(column, column + f.out_features)
        place(f.weight, (blocks[0][:, cols].T, blocks[1][:, cols].T))
        place(f.bias, (biases[0][cols], biases[1][cols]))
        column += f.out_features
    for i in range(1, len(layers[0])):
        for ls in layers:  # each model's weight, (n_out, n_in) contiguous
            n = ls[i].weight.numel()
            place(ls[i].weight, tuple(b[offset:offset + n].view_as(ls[i].weight) for b in (flat, grad)))
            offset += n
        for ls in layers:  # then the models' biases side by side
            n = ls[i].bias.numel()
            place(ls[i].bias, tuple(b[offset:offset + n] for b in (flat, grad)))
            offset += n
    assert offset == total
    return flat, grad, grads


class CompiledKernels:
    """native/kernels.c on tensors (row-major float32, contiguous)."""

    def __init__(self, lib: ctypes.CDLL, n_models: int):
        self.lib = lib
        self.loss, self.sq = (ctypes.c_double * n_models)(), (ctypes.c_double * n_models)()

    def bias_relu(self, h: torch.Tensor, bias: torch.Tensor) -> None:
        self.lib.aelab_bias_relu(h.data_ptr(), bias.data_ptr(), 1, h.shape[0], h.shape[1])

    def relu_backward(self, g: torch.Tensor, h: torch.Tensor, bias_grad: torch.Tensor) -> None:
        self.lib.aelab_relu_backward(g.data_ptr(), h.data_ptr(), 1, g.shape[0], g.shape[1], 0.0, bias_grad.data_ptr())

    def bce_output(self, z: torch.Tensor, target: torch.Tensor, bias: torch.Tensor, grad: torch.Tensor,
                   bias_grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (M, b, D) before the bias (M, D); per-model Σ BCE and Σ (σ − x)², float64 (M,)."""
        n_models, rows, cols = z.shape
        self.lib.aelab_bce_output(z.data_ptr(), target.data_ptr(), n_models, rows, cols, bias.data_ptr(),
                                  1.0 / (rows * cols), grad.data_ptr(), bias_grad.data_ptr(), self.loss, self.sq)
        return self.totals()

    def totals(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-model Σ BCE and Σ (σ − x)² the last compiled loss pass wrote, float64 (M,)."""
        return torch.tensor(self.loss[:], dtype=torch.float64), torch.tensor(self.sq[:], dtype=torch.float64)


class TorchKernels:
    """The same arithmetic as `CompiledKernels` in PyTorch operations (the fallback)."""

    @staticmethod
    def bias_relu(h: torch.Tensor, bias: torch.Tensor) -> None:
        h.add_(bias).clamp_min_(0.0)

    @staticmethod
    def relu_backward(g: torch.Tensor, h: torch.Tensor, bias_grad: torch.Tensor) -> None:
        g.mul_(h > 0)
        torch.sum(g, dim=0, out=bias_grad)

    @staticmethod
    def bce_output(z, target, bias, grad, bias_grad) -> tuple[torch.Tensor, torch.Tensor]:
        logits = z + bias[:, None, :]
        loss = F.binary_cross_entropy_with_logits(logits, target.expand_as(logits), reduction="none").sum(dim=(1, 2))
        residual = torch.sigmoid(logits).sub_(target)
        torch.mul(residual, 1.0 / target.numel(), out=grad)
        torch.sum(grad, dim=1, out=bias_grad)
        return loss.double(), residual.square().sum(dim=(1, 2)).double()


class FusedBatchedStep:
    """Replaces `Trainer.step` for a sweep: (target (b, D), inputs) → (Σ_m BCE_m, {"bce": (M,), "mse": (M,)})."""

    def __init__(self, model: BatchedDenseAutoencoder, learning_rate: float, native: bool = True, whole_step: bool = True,
                 threads: int = 1):
        self.model = model
        lib = load_native() if native else None
        self.native = lib
        self.kernels = CompiledKernels(lib, len(model.models)) if lib is not None else TorchKernels()
        flat, grad, self.grads = flatten_models(model)
        self.optimizer = FlatAdam(flat, grad, learning_rate, native=lib)
        self.plans: dict[int, SimpleNamespace] = {}
        self.whole_step = whole_step and lib is not None and lib.has_gemm  # one compiled call per step
        self.threads = threads  # ≥ 2: train two groups of models at once (whole step only)
        self.helper: ThreadPoolExecutor | None = None

    def plan(self, batch: int) -> SimpleNamespace:
        """Buffers for this batch size (the last batch may be smaller), allocated once, and the views
        every step uses: per model, its slice of the shared first layer and its later layers."""
        if batch in self.plans:
            return self.plans[batch]
        model, n_models = self.model, len(self.model.models)
        layers = [model.layers(m) for m in range(n_models)]
        widths = [ls[0].out_features for ls in layers]
        starts = [sum(widths[:m]) for m in range(n_models)]
        first, first_grad = torch.empty(batch, sum(widths)), torch.empty(batch, sum(widths))
        depth = len(layers[0])
        logits, logits_grad = torch.empty(n_models, batch, model.n_features), torch.empty(n_models, batch, model.n_features)
        per_model = []
        for m, ls in enumerate(layers):
            cols = slice(starts[m], starts[m] + widths[m])
            acts = [first[:, cols]] + [torch.empty(batch, layer.out_features) for layer in ls[1:-1]] + [logits[m]]
            g = [first_grad[:, cols]] + [torch.empty(batch, layer.out_features) for layer in ls[1:-1]] + [logits_grad[m]]
            per_model.append(SimpleNamespace(layers=ls, acts=acts, grads=g, weights_t=[layer.weight.T for layer in ls]))
        first_layers = [ls[0] for ls in layers]
        last_biases = [ls[-1].bias for ls in layers]
        plan = SimpleNamespace(
            first=first, first_grad=first_grad, depth=depth, logits=logits, logits_grad=logits_grad, per_model=per_model,
            first_weight=first_layers[0].weight.T.as_strided((first_layers[0].in_features, sum(widths)),
                                                             (sum(widths), 1)),  # the whole (n_in, Σ) block
            first_bias=first_layers[0].bias.as_strided((sum(widths),), (1,)),
            first_weight_grad=self.grads[id(first_layers[0].weight)].T.as_strided((first_layers[0].in_features, sum(widths)),
                                                                                  (sum(widths), 1)),
            first_bias_grad=self.grads[id(first_layers[0].bias)].as_strided((sum(widths),), (1,)),
            last_bias=last_biases[0].as_strided((n_models, model.n_features), (model.n_features, 1)),
            last_bias_grad=self.grads[id(last_biases[0])].as_strided((n_models, model.n_features), (model.n_features, 1)))
        plan.whole_step = self.whole_step_arguments(plan, layers, widths, starts) if self.whole_step else None
        plan.forward, plan.backward = self.operations(plan) if plan.whole_step is None else ([], [])
        self.plans[batch] = plan
        return plan

    def whole_step_arguments(self, plan: SimpleNamespace, layers: list, widths: list[int], starts: list[int]) -> list:
        """The arguments of `aelab_sweep_part` (native/kernels.c) for each group of models, fixed from
        step to step except x and target, as (before x and target, after them): one group (all models),
        or two of about equal work when a second thread is at hand (`threads` ≥ 2), trained at once."""
        n_models, depth = len(layers), plan.depth
        per_layer = lambda pick: pointer_array([None if i == 0 else pick(m, i) for m in range(n_models) for i in range(depth)])  # noqa: E731
        mps = plan.per_model
        plan.keep = [torch.tensor([w for ls in layers for w in [ls[0].in_features] + [layer.out_features for layer in ls]],
                                  dtype=torch.int64), torch.tensor(starts, dtype=torch.int64),
                     per_layer(lambda m, i: mps[m].layers[i].weight), per_layer(lambda m, i: self.grads[id(mps[m].layers[i].weight)]),
                     per_layer(lambda m, i: mps[m].layers[i].bias), per_layer(lambda m, i: self.grads[id(mps[m].layers[i].bias)]),
                     per_layer(lambda m, i: mps[m].acts[i]), per_layer(lambda m, i: mps[m].grads[i])]  # kept alive with the plan
        widths_t, columns_t, weights, weight_grads, biases, bias_grads, acts, grads = plan.keep
        shape = (depth, widths_t.data_ptr(), columns_t.data_ptr(), sum(widths), plan.first.shape[0])
        buffers = (plan.first_weight.data_ptr(), plan.first_bias.data_ptr(), plan.first_weight_grad.data_ptr(),
                   plan.first_bias_grad.data_ptr(), plan.first.data_ptr(), plan.first_grad.data_ptr(),
                   weights, weight_grads, biases, bias_grads, acts, grads, self.kernels.loss, self.kernels.sq)
        if self.threads < 2 or n_models < 2:
            return [((0, n_models, *shape), buffers)]
        cost = [w + 30 for w in widths]  # ~ products ∝ width, plus the loss pass over the 784 pixels
        split = min(range(1, n_models), key=lambda m: abs(sum(cost[:m]) - sum(cost[m:])))
        return [((0, split, *shape), buffers), ((split, n_models, *shape), buffers)]

    def second_thread(self) -> ThreadPoolExecutor:
        """The helper thread for the second group (and half of Adam); denormals flushed there too, as in
        the training thread (train.trainer.flush_denormals): Adam's second moments go denormal."""
        if self.helper is None:
            self.helper = ThreadPoolExecutor(1, thread_name_prefix="aelab-sweep", initializer=torch.set_flush_denormal,
                                             initargs=(True,))
        return self.helper

    def compiled_step(self, plan: SimpleNamespace, x: torch.Tensor, target: torch.Tensor) -> None:
        """Forward, backward and Adam of every model in compiled calls: one group on this thread, or two
        groups at once (the second on the helper thread; ctypes releases the GIL), then Adam in halves."""
        part, data, scalars = self.native.aelab_sweep_part, (x.data_ptr(), target.data_ptr()), self.optimizer.advance()
        groups = plan.whole_step
        call = lambda group: part(*group[0], *data, *group[1])  # noqa: E731
        if len(groups) == 1:
            call(groups[0])
            self.optimizer.update(0, scalars)
            return
        helper = self.second_thread()
        other = helper.submit(call, groups[1])
        call(groups[0])
        other.result()
        other = helper.submit(self.optimizer.update, 2, scalars)  # the second half of the flat buffer there
        self.optimizer.update(1, scalars)
        other.result()

    @torch.no_grad()
    def __call__(self, target: torch.Tensor, inputs: torch.Tensor | None = None) -> tuple[float, dict[str, torch.Tensor]]:
        target = target.contiguous()
        x = target if inputs is None else inputs.contiguous()
        plan = self.plan(len(target))
        n_values = target.numel()
        if plan.whole_step is not None:  # everything in compiled calls, products included
            self.compiled_step(plan, x, target)
            bce, sq = self.kernels.totals()
        else:
            torch.mm(x, plan.first_weight, out=plan.first)  # every model's first layer: (b, n_in)(n_in, Σ n_out)
            for op in plan.forward:  # the rest of every model's forward pass, logits into plan.logits
                op()
            bce, sq = self.kernels.bce_output(plan.logits, target, plan.last_bias, plan.logits_grad, plan.last_bias_grad)
            for op in plan.backward:  # every model's backward pass down to its slice of the first layer's output
                op()
            torch.mm(x.T, plan.first_grad, out=plan.first_weight_grad)
            self.optimizer.step()
        bce, mse = bce / n_values, sq / n_values
        return bce.sum().item(), {"bce": bce, "mse": mse}

    def operations(self, plan: SimpleNamespace) -> tuple[list[Callable], list[Callable]]:
        """The step's products and kernels between the shared first layer and the loss, and back,
        as bound calls (built once per batch size: a step then spends no time assembling arguments)."""
        k, grads = self.kernels, self.grads
        forward: list[Callable] = [partial(k.bias_relu, plan.first, plan.first_bias)]
        backward: list[Callable] = []
        for mp in plan.per_model:  # h_i = relu(h_{i−1} W_iᵀ + b_i), the last layer's output being the logits
            for i in range(1, plan.depth):
                forward.append(partial(torch.mm, mp.acts[i - 1], mp.weights_t[i], out=mp.acts[i]))
                if i < plan.depth - 1:
                    forward.append(partial(k.bias_relu, mp.acts[i], mp.layers[i].bias))
        for mp in plan.per_model:
            for i in range(plan.depth - 1, 0, -1):
                layer = mp.layers[i]
                backward.append(partial(torch.mm, mp.grads[i].T, mp.acts[i - 1], out=grads[id(layer.weight)]))  # ∂W_i = gᵀ h_{i−1}
                backward.append(partial(torch.mm, mp.grads[i], layer.weight, out=mp.grads[i - 1]))  # ∂h_{i−1} = g W_i
                if i > 1:  # relu′ and the bias gradient of a per-model hidden layer
                    backward.append(partial(k.relu_backward, mp.grads[i - 1], mp.acts[i - 1], grads[id(mp.layers[i - 1].bias)]))
        backward.append(partial(k.relu_backward, plan.first_grad, plan.first, plan.first_bias_grad))  # all first layers at once
        return forward, backward
