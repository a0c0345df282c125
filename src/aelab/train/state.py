"""A trainer's complete state as (tensors, JSON-able info), and its exact restoration.

Captured: model parameters, the optimiser's moments and step counts, the random generator, and
the `Position` (epoch, step, this epoch's order, running sums, history). Restoring all of it makes
a resumed run produce the same bits as an uninterrupted one.
"""

from __future__ import annotations

import torch

from aelab.errors import CheckpointError
from aelab.train.optimizer_state import fit_optimizer_state
from aelab.train.trainer import EpochRecord, Position, Trainer, history_as_dicts


def trainer_state(trainer: Trainer) -> tuple[dict[str, torch.Tensor], dict]:
    """Everything needed to continue `trainer` exactly."""
    pos = trainer.position
    tensors = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    optim = trainer.optimizer.state_dict()
    for index, slots in optim["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    tensors["generator"] = trainer.generator.get_state()
    tensors["position.total"] = torch.tensor(pos.total, dtype=torch.float64)
    for name, value in pos.part_sums.items():
        tensors[f"position.part.{name}"] = torch.as_tensor(
            value, dtype=torch.float64 if isinstance(value, float) else None
        )
    if pos.order is not None:
        tensors["position.order"] = pos.order
    info = {
        "epoch": pos.epoch,
        "step": pos.step,
        "seconds": pos.seconds,
        "history": history_as_dicts(pos.history),
        "param_groups": optim["param_groups"],
    }
    return {k: v.detach().cpu().clone().contiguous() for k, v in tensors.items()}, info  # CPU tensors: loads anywhere


def restore_trainer_state(trainer: Trainer, tensors: dict[str, torch.Tensor], info: dict) -> None:
    """Put `trainer` back exactly where `trainer_state` found it; a state that does not fit is refused."""
    try:
        tensors, info = fit_optimizer_state(trainer, tensors, info)  # saved on another device's engine: its form here
        trainer.model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, slot = key.split(".", 2)
                state.setdefault(int(index), {})[slot] = value
        trainer.optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
        trainer.generator.set_state(tensors["generator"])
        trainer.position = Position(
            epoch=int(info["epoch"]),
            step=int(info["step"]),
            order=tensors.get("position.order"),
            total=tensors["position.total"].item(),
            seconds=float(info["seconds"]),
            part_sums={
                k[len("position.part.") :]: v.item() if v.dim() == 0 else v.clone()
                for k, v in tensors.items()
                if k.startswith("position.part.")
            },
            history=[EpochRecord(**r) for r in info["history"]],
        )
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"checkpoint does not fit this model and optimiser: {first}") from None
