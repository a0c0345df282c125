"""Resumable training for any run folder: a checkpoint after every epoch and on SIGINT/SIGTERM.

Shared by `train` and `sweep`. The checkpoint holds the trainer's whole state plus the run's
config (a resume under another config is refused) and any `extra` JSON the caller keeps per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aelab.errors import TrainingError
from aelab.train.checkpoint import check_same_config, load_checkpoint, save_checkpoint
from aelab.train.interrupt import graceful_stop
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.trainer import EpochRecord, Trainer, TrainingInterrupted

CHECKPOINT = "checkpoint.safetensors"


def save_state(out: Path, trainer: Trainer, config_json: dict, extra: object = None) -> Path:
    return write_state(out, captured_state(trainer), config_json, extra)


def captured_state(trainer: Trainer) -> tuple[dict, dict]:
    """`trainer_state`, its info also naming the engine that trained it (see `engine_identity`)."""
    tensors, info = trainer_state(trainer)
    return tensors, {**info, "engine": engine_identity(trainer.engine.describe())}


def write_state(out: Path, state: tuple[dict, dict], config_json: dict, extra: object = None) -> Path:
    """Write a captured state (`captured_state`) as `out`'s checkpoint (the Python API keeps one after fit)."""
    tensors, info = state
    return save_checkpoint(out / CHECKPOINT, tensors, {**info, "config": config_json, "extra": extra})


def engine_identity(record: dict) -> dict:
    """What decides a step's float rounding: the engine, its threads (and how two share a step) and the BLAS library."""
    blas = record.get("blas")
    return {
        "engine": record.get("engine"),
        "threads": record.get("threads"),
        **({"split": record["split"]} if "split" in record else {}),
        "blas": blas.get("library") if isinstance(blas, dict) else blas,
        **({"device": record["device"]} if "device" in record else {}),
    }  # a GPU's (the CPU's is not named)


def read_state(out: Path) -> tuple[dict, dict]:
    """(tensors, info) of `out`'s checkpoint as `trainer_state` returns them (without config and extra)."""
    tensors, info = load_checkpoint(out / CHECKPOINT)
    return tensors, {k: v for k, v in info.items() if k not in ("config", "extra")}  # the engine stays: it round-trips


def restore_state(out: Path, trainer: Trainer, config_json: dict, log: Callable[[str], None]) -> object:
    """Continue from `out`'s checkpoint (refusing one saved under another config); return its `extra`."""
    tensors, info = load_checkpoint(out / CHECKPOINT)
    check_same_config(out / CHECKPOINT, info.get("config", {}), config_json)
    restore_trainer_state(trainer, tensors, info)
    log(f"resuming from {out / CHECKPOINT}: epoch {info['epoch']}, step {info['step']}")
    before, now = info.get("engine"), engine_identity(trainer.engine.describe())
    if before is not None and before != now:  # e.g. another BLAS measured faster this time (native/blas.py)
        log(
            f"note: the checkpoint was trained with {before}, this run continues with {now}: the continuation "
            "matches an uninterrupted run to float32 rounding, not bit for bit (AELAB_BLAS pins the BLAS)"
        )
    return info.get("extra")


def fit_resumable(
    trainer: Trainer,
    out: Path,
    config_json: dict,
    quiet: bool,
    epoch_done: Callable[[EpochRecord], None],
    extra: Callable[[], object] = lambda: None,
    **fit_args,
) -> list[EpochRecord]:
    """`trainer.fit(**fit_args)`, checkpointing after each epoch (after `epoch_done`) and on a stop request.

    On divergence the last good checkpoint is kept and the error says so.
    """

    def after_epoch(record: EpochRecord) -> None:
        epoch_done(record)
        save_state(out, trainer, config_json, extra())

    try:
        with graceful_stop(trainer, quiet):
            return trainer.fit(on_epoch_end=after_epoch, **fit_args)
    except TrainingInterrupted as exc:
        save_state(out, trainer, config_json, extra())
        raise TrainingInterrupted(
            f"{exc}; checkpoint saved in {out / CHECKPOINT}: continue with the same command and --resume"
        ) from None
    except TrainingError as exc:
        last = trainer.position.epoch - 1
        kept = (
            f"the last good checkpoint (end of epoch {last}) is kept"
            if (out / CHECKPOINT).exists()
            else "no checkpoint was written"
        )
        raise TrainingError(f"{exc}; {kept}") from None
