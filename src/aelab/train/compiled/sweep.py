"""The compiled step of a sweep: one step for every model of a `BatchedDenseAutoencoder`.

The same chain rule as train/compiled/dense.py (docs/engine.md (E1)–(E5)), for M models at once. All
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
from aelab.train.compiled.base import Chunk, CompiledStep, Share, float_pointer


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
    blocks = [b[offset : offset + n_in * width].view(n_in, width) for b in (flat, grad)]  # stored (n_in, Σ n_out)
    offset += n_in * width
    biases = [b[offset : offset + width] for b in (flat, grad)]
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
            place(ls[i].weight, tuple(b[offset : offset + n].view_as(ls[i].weight) for b in (flat, grad)))
            offset += n
        for ls in layers:  # then the models' biases side by side
            n = ls[i].bias.numel()
            place(ls[i].bias, tuple(b[offset : offset + n] for b in (flat, grad)))
            offset += n
    assert offset == total
    return flat, grad, grads


class CompiledSweepStep(CompiledStep):
    """The sweep's `Step`: (target (b, D), inputs) → (Σ_m BCE_m, {"bce": (M,), "mse": (M,)}).

    A batch is one share of every row: two threads split the models (`split_model`), not the rows."""

    what = "compiled sweep step"

    def __init__(self, model: BatchedDenseAutoencoder, objective, learning_rate: float, threads: int = 1):
        if type(model) is not BatchedDenseAutoencoder or type(objective) is not PerModelBCE:
            raise EngineError(
                f"compiled sweep step: {type(model).__name__} with {type(objective).__name__} is not "
                "what it computes; expected BatchedDenseAutoencoder with PerModelBCE "
                "(use engine 'autograd')"
            )
        super().__init__(model, objective, 2 if threads >= 2 and len(model.models) >= 2 else 1)  # two groups of models
        flat, grad, self.grad_views = flatten_models(model)
        self.start_adam(flat, [grad], learning_rate)
        self.split_model = self.second_group([model.layers(m)[0].out_features for m in range(len(model.models))])

    def second_group(self, widths: list[int]) -> int:
        """The first model of the second thread's group, the two of about equal work; 0: one thread, one group."""
        n_models = len(widths)
        if self.threads < 2:
            return 0
        cost = [w + 30 for w in widths]  # ~ products ∝ width, plus the loss pass over the 784 pixels
        return min(range(1, n_models), key=lambda m: abs(sum(cost[:m]) - sum(cost[m:])))

    def make_shares(self, batch: int) -> list[Share]:
        """The one share of a batch of this size: its aelab_sweep struct (buffers allocated once, every pointer the
        compiled call reads) and, as its sums, Σ BCE then Σ (σ − x)² per model."""
        ffi, model, n_models = self.native.ffi, self.model, len(self.model.models)
        layers = [model.layers(m) for m in range(n_models)]
        widths = [ls[0].out_features for ls in layers]
        first, first_grad = torch.empty(batch, sum(widths)), torch.empty(batch, sum(widths))
        acts, deltas, kept = self.layer_buffers(batch, layers)
        arrays = self.layer_arrays(layers, acts, deltas)
        f0, grad_of = layers[0][0], self.grad_views
        sums = ffi.new("double[]", 2 * n_models)  # Σ BCE, then Σ (σ − x)², per model
        sweep = ffi.new(
            "aelab_sweep *",
            {
                "sgemm": self.native.sgemm,
                "models": n_models,
                "layers": len(layers[0]),
                "total": sum(widths),
                # model 0's first layer starts the shared block
                "first_weight": float_pointer(ffi, f0.weight),
                "first_bias": float_pointer(ffi, f0.bias),
                "first_weight_grad": float_pointer(ffi, grad_of[id(f0.weight)]),
                "first_bias_grad": float_pointer(ffi, grad_of[id(f0.bias)]),
                "first": float_pointer(ffi, first),
                "first_grad": float_pointer(ffi, first_grad),
                "loss": sums,
                "sq": sums + n_models,
                **arrays,
            },
        )
        batch_struct = ffi.new("aelab_batch *", {"rows": batch, "scale": 1.0 / (batch * model.n_features)})  # (E2)
        return [Share(sweep, batch_struct, sums, 0, kept + [first, first_grad, arrays])]

    def layer_arrays(self, layers: list[list], acts: list, deltas: list) -> dict:
        """aelab_sweep's per-model arrays: widths, first-layer columns, and per model m and layer i (at m·depth + i;
        NULL for i = 0, which the shared block holds) pointers to weights, biases, their gradients, the buffers."""
        ffi, depth, grad_of = self.native.ffi, len(layers[0]), self.grad_views
        widths = [ls[0].out_features for ls in layers]  # each model's first layer: its columns of the shared block
        model_widths = [w for ls in layers for w in [ls[0].in_features] + [layer.out_features for layer in ls]]

        def per_layer(pick) -> object:
            return ffi.new(
                "float *[]",
                [
                    ffi.NULL if i == 0 else float_pointer(ffi, pick(m, i))
                    for m in range(len(layers))
                    for i in range(depth)
                ],
            )

        return {
            "widths": ffi.new("int64_t[]", model_widths),
            "column": ffi.new("int64_t[]", [sum(widths[:m]) for m in range(len(layers))]),
            "weights": per_layer(lambda m, i: layers[m][i].weight),
            "weight_grads": per_layer(lambda m, i: grad_of[id(layers[m][i].weight)]),
            "biases": per_layer(lambda m, i: layers[m][i].bias),
            "bias_grads": per_layer(lambda m, i: grad_of[id(layers[m][i].bias)]),
            "acts": per_layer(lambda m, i: acts[m * depth + i]),
            "grads": per_layer(lambda m, i: deltas[m * depth + i]),
        }

    @staticmethod
    def layer_buffers(batch: int, layers: list[list]) -> tuple[list, list, list]:
        """(activations, their gradients, tensors to keep) per model and layer ≥ 1 (index m·depth + i; entries for
        i = 0 are None: the first layers write the shared block), the last layers' stacked as (M, b, D)."""
        n_models, n_features = len(layers), layers[0][-1].out_features
        logits, logits_grad = torch.empty(n_models, batch, n_features), torch.empty(n_models, batch, n_features)
        acts, deltas = [], []
        for m, ls in enumerate(layers):
            acts += [None] + [torch.empty(batch, layer.out_features) for layer in ls[1:-1]] + [logits[m]]
            deltas += [None] + [torch.empty(batch, layer.out_features) for layer in ls[1:-1]] + [logits_grad[m]]
        return acts, deltas, [logits, logits_grad, acts, deltas]

    def take_step(self, shares: list[Share], batch: int) -> tuple[float, dict[str, torch.Tensor]]:
        whole, lib, opt, n_models = shares[0], self.native.lib, self.optimizer, len(self.model.models)
        if self.split_model:  # the second group on kernels.c's helper thread; each thread then updates its group
            lib.aelab_sweep_step_pair(whole.work, self.split_model, whole.batch, opt.buffers[False], opt.scalars)
        else:
            lib.aelab_sweep_part(whole.work, 0, n_models, whole.batch)
            opt.update(0, opt.flat.numel())
        ffi, n_values = self.native.ffi, batch * self.model.n_features
        bce = torch.tensor(ffi.unpack(whole.sums, n_models), dtype=torch.float64) / n_values
        mse = torch.tensor(ffi.unpack(whole.sums + n_models, n_models), dtype=torch.float64) / n_values
        return bce.sum().item(), {"bce": bce, "mse": mse}

    def take_steps(self, shares: list[Share], chunk: Chunk, steps: int) -> list[tuple[float, dict[str, torch.Tensor]]]:
        """`aelab_sweep_steps`: each step as `take_step` computes it, its sums per model into a (2, steps, M) array."""
        ffi, opt, n_models = self.native.ffi, self.optimizer, len(self.model.models)
        sums = torch.empty(2, steps, n_models, dtype=torch.float64)  # Σ BCE, Σ (σ − x)² per step and model
        address = ffi.cast("double *", sums.data_ptr())
        chunk.struct.bce, chunk.struct.code_sum = address, address + steps * n_models
        self.native.lib.aelab_sweep_steps(
            shares[0].work, self.split_model, shares[0].batch, opt.buffers[False], opt.scalars, chunk.struct
        )
        bce, mse = sums / chunk.x.numel()
        return [(total, {"bce": b, "mse": m}) for total, b, m in zip(bce.sum(1).tolist(), bce, mse)]
