"""The compiled step of a sweep: one step for every model of a `BatchedDenseAutoencoder`.

The same chain rule as train/fused.py (docs/engine.md (E1)–(E5)), for M models at once. All
parameters live in one flat buffer (`flatten_models`), grouped by layer: the first layers of all
models as one (n_in, Σ n_out) block, so that the shared input needs one GEMM for every model; then,
per later layer, each model's weight block and the models' biases side by side, so that the output
layer's M biases are one (M, D) array the loss kernel reads in one pass. Nothing is padded: Adam
updates exactly the sweep's parameters. The step is one compiled call (`aelab_sweep_part`, then Adam),
or with `threads` = 2 one call (`aelab_sweep_step_pair`) that runs two groups of models of about equal
work at once, on this thread and kernels.c's spinning helper, each group then updating its own
parameters while they are still near its core (earlier, a Python thread pool took the second group,
and Adam's two halves each updated parameters the other core had computed).

Built from the model and the objective: anything but a `BatchedDenseAutoencoder` trained on
`PerModelBCE` is refused (`EngineError`); the autograd step is the reference (tests/test_fused_batched.py).
"""

from __future__ import annotations

import torch

from aelab.errors import EngineError
from aelab.models.batched import BatchedDenseAutoencoder
from aelab.objectives import PerModelBCE
from aelab.train.fused import CompiledStep, FlatAdam, float_pointer


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


class CompiledSweepStep(CompiledStep):
    """The sweep's `Step`: (target (b, D), inputs) → (Σ_m BCE_m, {"bce": (M,), "mse": (M,)})."""

    def __init__(self, model: BatchedDenseAutoencoder, objective, learning_rate: float, threads: int = 1):
        if type(model) is not BatchedDenseAutoencoder or type(objective) is not PerModelBCE:
            raise EngineError(f"compiled sweep step: {type(model).__name__} with {type(objective).__name__} is not what it "
                              "computes; expected BatchedDenseAutoencoder with PerModelBCE (use engine 'autograd')")
        self.native = self.load_native("compiled sweep step")
        self.model, self.objective = model, objective
        self.threads = 2 if threads >= 2 and len(model.models) >= 2 else 1  # ≥ 2: two groups of models at once
        flat, grad, self.grads = flatten_models(model)
        self.optimizer = FlatAdam(self.native, flat, grad, learning_rate)
        ffi = self.native.ffi
        self.loss, self.sq = ffi.new("double[]", len(model.models)), ffi.new("double[]", len(model.models))
        self.plans: dict[int, tuple] = {}

    def plan(self, batch: int) -> tuple:
        """(aelab_sweep struct, the groups of models, tensors and arrays to keep alive) for this batch size:
        buffers allocated once (the last batch may be smaller), every pointer the compiled call reads."""
        if batch in self.plans:
            return self.plans[batch]
        ffi, model, n_models = self.native.ffi, self.model, len(self.model.models)
        layers = [model.layers(m) for m in range(n_models)]
        depth, widths = len(layers[0]), [ls[0].out_features for ls in layers]
        starts = [sum(widths[:m]) for m in range(n_models)]
        first, first_grad = torch.empty(batch, sum(widths)), torch.empty(batch, sum(widths))
        logits, logits_grad = torch.empty(n_models, batch, model.n_features), torch.empty(n_models, batch, model.n_features)
        acts, deltas = [], []  # per model and layer ≥ 1 (index m·depth + i; entries for i = 0 are unused)
        for m, ls in enumerate(layers):
            acts += [None] + [torch.empty(batch, layer.out_features) for layer in ls[1:-1]] + [logits[m]]
            deltas += [None] + [torch.empty(batch, layer.out_features) for layer in ls[1:-1]] + [logits_grad[m]]
        per_layer = lambda pick: ffi.new("float *[]", [ffi.NULL if i == 0 else float_pointer(ffi, pick(m, i))  # noqa: E731
                                                       for m in range(n_models) for i in range(depth)])
        grad_of = lambda param: self.grads[id(param)]  # noqa: E731
        f0 = layers[0][0]
        arrays = {
            "widths": ffi.new("int64_t[]", [w for ls in layers for w in [ls[0].in_features] + [x.out_features for x in ls]]),
            "column": ffi.new("int64_t[]", starts),
            "weights": per_layer(lambda m, i: layers[m][i].weight), "weight_grads": per_layer(lambda m, i: grad_of(layers[m][i].weight)),
            "biases": per_layer(lambda m, i: layers[m][i].bias), "bias_grads": per_layer(lambda m, i: grad_of(layers[m][i].bias)),
            "acts": per_layer(lambda m, i: acts[m * depth + i]), "grads": per_layer(lambda m, i: deltas[m * depth + i])}
        sweep = ffi.new("aelab_sweep *", {
            "sgemm": self.native.sgemm, "models": n_models, "layers": depth, "total": sum(widths),
            "first_weight": float_pointer(ffi, f0.weight), "first_bias": float_pointer(ffi, f0.bias),  # model 0's block starts the shared one
            "first_weight_grad": float_pointer(ffi, grad_of(f0.weight)), "first_bias_grad": float_pointer(ffi, grad_of(f0.bias)),
            "first": float_pointer(ffi, first), "first_grad": float_pointer(ffi, first_grad),
            "loss": self.loss, "sq": self.sq, **arrays})
        batch_struct = ffi.new("aelab_batch *", {"rows": batch, "scale": 1.0 / (batch * model.n_features)})  # (E2)
        self.plans[batch] = (sweep, batch_struct, self.groups(widths), [first, first_grad, logits, logits_grad, acts, deltas, arrays])
        return self.plans[batch]

    def groups(self, widths: list[int]) -> list[tuple[int, int]]:
        """[(first model, end model)]: all models, or two groups of about equal work for two threads."""
        n_models = len(widths)
        if self.threads < 2:
            return [(0, n_models)]
        cost = [w + 30 for w in widths]  # ~ products ∝ width, plus the loss pass over the 784 pixels
        split = min(range(1, n_models), key=lambda m: abs(sum(cost[:m]) - sum(cost[m:])))
        return [(0, split), (split, n_models)]

    @torch.no_grad()
    def __call__(self, target: torch.Tensor, inputs: torch.Tensor) -> tuple[float, dict[str, torch.Tensor]]:
        target, x = target.contiguous(), inputs.contiguous()
        sweep, batch, groups, _ = self.plan(len(target))
        lib, ffi, opt = self.native.lib, self.native.ffi, self.optimizer
        batch.x, batch.target = float_pointer(ffi, x), float_pointer(ffi, target)
        opt.advance()
        n = opt.flat.numel()
        if len(groups) == 1:
            lib.aelab_sweep_part(sweep, *groups[0], batch)
            opt.update(0, n)
        else:  # the second group on kernels.c's helper thread; each thread then updates its own group's parameters
            lib.aelab_sweep_step_pair(sweep, groups[1][0], batch, opt.buffers[False], opt.scalars)
        n_models, n_values = len(self.model.models), target.numel()
        bce = torch.tensor(ffi.unpack(self.loss, n_models), dtype=torch.float64) / n_values
        mse = torch.tensor(ffi.unpack(self.sq, n_models), dtype=torch.float64) / n_values
        return bce.sum().item(), {"bce": bce, "mse": mse}

    @torch.no_grad()
    def run_steps(self, data: torch.Tensor, inputs: torch.Tensor | None, rows: torch.Tensor,
                  should_stop=lambda: False) -> list[tuple[float, dict[str, torch.Tensor]]]:
        """Every step of `rows` in one compiled call (`aelab_sweep_steps`), as the dense step's `run_steps`; equal to
        the same steps one by one, bit for bit."""
        if not self.in_memory(data, inputs):
            return super().run_steps(data, inputs, rows, should_stop)
        steps, batch_size = rows.shape
        ffi, opt, n_models = self.native.ffi, self.optimizer, len(self.model.models)
        sweep, batch, groups, _ = self.plan(batch_size)
        chunk, x, target = self.chunk_struct(batch_size, data.shape[1])
        batch.x, batch.target = float_pointer(ffi, x), float_pointer(ffi, x if inputs is None else target)
        sums = torch.empty(2, steps, n_models, dtype=torch.float64)  # Σ BCE, Σ (σ − x)² per step and model
        rows = rows.contiguous()
        self.fill_chunk(chunk, data, inputs, rows)
        address = ffi.cast("double *", sums.data_ptr())
        chunk.bce, chunk.code_sum = address, address + steps * n_models
        split = groups[1][0] if len(groups) == 2 else 0
        self.native.lib.aelab_sweep_steps(sweep, split, batch, opt.buffers[False], opt.scalars, chunk)
        opt.steps += steps
        bce, mse = sums / (batch_size * data.shape[1])
        return [(total, {"bce": b, "mse": m}) for total, b, m in zip(bce.sum(1).tolist(), bce, mse)]
