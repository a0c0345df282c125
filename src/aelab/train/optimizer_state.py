"""A checkpoint's Adam state in the form the resuming trainer's optimiser takes, so a run continues on another device.

The compiled steps (CPU only) keep Adam's moments in one flat buffer laid out as their parameters are
(train/compiled/base.py's FlatAdam: one state slot, the first layer stored transposed, a sweep's models grouped
by layer); torch.optim.Adam, which every GPU step uses, keeps one slot per parameter. A run interrupted
on the CPU and resumed on a GPU (or the other way round) changes form here. The layout is never
rebuilt by hand: the flat buffer's own parameter views translate it. A compiled step's parameters are
views of its flat buffer, so writing a flat moment into that buffer shows each parameter's part in
the parameter's shape, and writing per-parameter moments into the parameters fills the flat buffer.

Adam's hyperparameters come from the config, which resume has already compared; its flags (PyTorch's
`capturable`, which a CUDA graph needs) are the resuming optimiser's own, not the checkpoint's.
"""

from __future__ import annotations

import copy

import torch

from aelab.errors import CheckpointError
from aelab.train.compiled.base import FlatAdam
from aelab.train.engines import make_step
from aelab.train.trainer import Trainer

MOMENTS = ("exp_avg", "exp_avg_sq")


def fit_optimizer_state(trainer: Trainer, tensors: dict[str, torch.Tensor], info: dict) -> tuple[dict, dict]:
    """(tensors, info) with the optimiser's part in `trainer.optimizer`'s form (unchanged where it already is)."""
    n_params = len(list(trainer.model.parameters()))
    saved_flat = len(info["param_groups"][0]["params"]) == 1 and n_params > 1
    target_flat = isinstance(trainer.optimizer, FlatAdam)
    if saved_flat and not target_flat:
        tensors = per_parameter(trainer, tensors, info)
    elif target_flat and not saved_flat and "optim.0.step" in tensors:
        tensors = flat(trainer.optimizer, list(trainer.model.parameters()), tensors)
    # torch.optim.Adam takes the saved groups' flags: give it its own (capturable on CUDA); the values are the config's
    return tensors, {**info, "param_groups": trainer.optimizer.state_dict()["param_groups"]}


def per_parameter(trainer: Trainer, tensors: dict, info: dict) -> dict:
    """A compiled step's flat Adam slot as torch.optim.Adam's slots, one per parameter in model order."""
    scratch = copy.deepcopy(trainer.model).cpu()  # the compiled step that wrote the checkpoint, rebuilt on the CPU
    threads = (info.get("engine") or {}).get("threads") or 1
    step = make_step("compiled", scratch, trainer.objective, 1e-3, threads=threads)
    if not isinstance(step.optimizer, FlatAdam):
        raise CheckpointError(
            "checkpoint: its optimiser state is the compiled step's, which is not available here "
            f"({step.describe().get('fallback')}): expected a checkpoint from the autograd step"
        )
    params = list(scratch.parameters())
    out = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    with torch.no_grad():
        for moment in MOMENTS:
            step.optimizer.flat.copy_(tensors[f"optim.0.{moment}"])  # every parameter now shows its part of the moment
            for index, p in enumerate(params):
                out[f"optim.{index}.{moment}"] = p.detach().clone().contiguous()
    for index in range(len(params)):
        out[f"optim.{index}.step"] = tensors["optim.0.step"].clone()
    return out


def flat(optimizer: FlatAdam, params: list[torch.Tensor], tensors: dict) -> dict:
    """torch.optim.Adam's per-parameter slots as a compiled step's flat slot (the parameters are scratch here:
    the model's own values are loaded after this)."""
    out = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    with torch.no_grad():
        for moment in MOMENTS:
            for index, p in enumerate(params):
                p.copy_(tensors[f"optim.{index}.{moment}"])  # into the flat buffer, through the parameter's view
            out[f"optim.0.{moment}"] = optimizer.flat.clone()
    out["optim.0.step"] = tensors["optim.0.step"].clone()
    return out
