"""The recipe every task follows to make a run: the family's defaults, seeded generators, the data
subset, the noise, then the model, its objective and its trainer — and the final metrics.

Everything random is drawn from generators seeded from the config's seed, one per purpose, so that
(say) turning on noise never changes the initial weights or the batch order. `aelab train`, the
sweep, anomaly detection and the Python API all make their models here, so a model (k, seed) is the
same whichever door it came through.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from aelab.config import SweepConfig, TrainConfig
from aelab.data import Dataset
from aelab.data.arrays import image_shape, shared_tensor
from aelab.data.noise import corruption
from aelab.errors import ConfigError
from aelab.models.registry import get_family
from aelab.models.variational import VariationalAutoencoder
from aelab.objectives import MSEObjective, VariationalObjective, objective_for
from aelab.train.metrics import reconstruction_metrics
from aelab.train.trainer import EpochRecord, Trainer
from aelab.train.vae_metrics import variational_metrics

STREAMS = ("init", "order", "subset", "noise", "test_noise")
UNUSED = (  # a setting, the family's flag for it, and why it does nothing where the flag is off
    ("code_size", "uses_code_size", "its code is fixed by the architecture"),
    ("hidden_sizes", "uses_hidden_sizes", "it has no hidden layers to size"),
)


def without_unused(config, named, warn):
    """`config` with the settings its model family does not use put back to their defaults, each said once through
    `warn`: a code size given to `conv` (its code is fixed by the architecture) or hidden sizes to `shallow` would
    otherwise be accepted silently and recorded in config.json as if they had shaped the model. `named(setting,
    value)` says a setting as the door the user came through spells it (`--code-size 8`, `code_size=8`)."""
    family, defaults = get_family(config.model), {f.name: f.default for f in dataclasses.fields(config)}
    for name, uses, why in UNUSED:
        value = getattr(config, name, None)
        if name in defaults and not getattr(family, uses) and value != defaults[name]:
            warn(f"{named(name, value)} does nothing with {named('model', config.model)} ({why}): left at its default")
            config = dataclasses.replace(config, **{name: defaults[name]})
    return config


def resolve(config: TrainConfig) -> TrainConfig:
    """A config with the model family's study defaults filled in (a new object; configs are frozen)."""
    family = get_family(config.model)
    return dataclasses.replace(
        config,
        epochs=config.epochs if config.epochs is not None else family.default_epochs,
        noise=config.noise if config.noise is not None else family.default_noise,
        l1=config.l1 if config.l1 is not None else family.default_l1,
        noise_factor=config.noise_factor if config.noise_factor is not None else family.default_noise_factor,
        beta=config.beta if config.beta is not None else family.default_beta,
    )


def seeded_generators(seed: int) -> dict[str, torch.Generator]:
    """Independent generators per purpose, derived from one seed through NumPy's SeedSequence."""
    states = np.random.SeedSequence(seed).generate_state(len(STREAMS), dtype=np.uint64)
    return {name: torch.Generator().manual_seed(int(s) >> 1) for name, s in zip(STREAMS, states)}


def select(
    data: Dataset, config: TrainConfig | SweepConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Training and test tensors as configured (a seeded random subset of train, the first N test) and test labels.

    Used by `train` and `sweep` alike, so model (k, seed) of a sweep sees the images `aelab train` would.
    """
    train = shared_tensor(data.train_images)  # the loaded data set's arrays are read-only; aelab never writes into them
    test = shared_tensor(data.test_images)
    if isinstance(config, TrainConfig) and config.train_with_test:  # the Keras VAE example trains on all 70,000
        train = torch.cat([train, test])
    if config.train_size is not None:
        if config.train_size > len(train):
            raise ConfigError(
                f"--train-size {config.train_size}: expected at most {len(train)} (the training set's size)"
            )
        train = train[torch.randperm(len(train), generator=generator)[: config.train_size]].clone()
    if config.test_size is not None and config.test_size > len(test):
        raise ConfigError(f"--test-size {config.test_size}: expected at most {len(test)} (the test set's size)")
    n_test = len(test) if config.test_size is None else config.test_size
    # A batch size above the training set's size is one short batch per epoch (Keras' behaviour), not an error.
    return train, test[:n_test], None if data.test_labels is None else data.test_labels[:n_test]


def noisy_inputs(
    config: TrainConfig, train_x: torch.Tensor, test_x: torch.Tensor, generators: dict[str, torch.Generator]
) -> tuple[torch.Tensor | None, torch.Tensor | None, object]:
    """(fixed training inputs or None, test inputs or None, per-batch transform or None) for the run's noise."""
    if config.noise is None:
        return None, None, None
    corrupt = corruption(config.noise, config.noise_factor)
    test_inputs = corrupt(test_x, generators["test_noise"])  # seeded and fixed, so every epoch scores the same inputs
    if config.fixed_noise:  # the original study: one draw for the whole training set
        return corrupt(train_x, generators["noise"]), test_inputs, None
    return None, test_inputs, corrupt


def vae_needs_bce(config, train_x: torch.Tensor) -> str:
    """The refusal of a variational model on data that trains with MSE, naming exactly the options that work: a table
    defaults to MSE whatever its scaling, so `--scale minmax` alone is not enough; `--loss bce` alone is, where the
    values are already in [0, 1]."""
    unit = bool(train_x.numel()) and 0.0 <= float(train_x.min()) and float(train_x.max()) <= 1.0
    fix = "--loss bce" if unit else "--scale minmax --loss bce"
    return (
        f"--model {config.model} on {config.dataset}: trains with the MSE loss (--loss mse, or the default for a table "
        f"or for values outside [0, 1]): expected the BCE loss on values in [0, 1] (pass {fix}): a variational "
        "model's decoder models pixels in [0, 1]"
    )


def model_and_trainer(
    config: TrainConfig,
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    generators: dict[str, torch.Generator],
    quiet: bool,
    sample_shape: tuple[int, ...] | None = None,
) -> tuple[torch.nn.Module, Trainer, torch.Tensor | None, torch.Tensor | None]:
    """(model, trainer, fixed noisy training inputs or None, noisy test inputs or None) for a resolved config.

    The one place a run's model and trainer are made, for `aelab train` and the Python API alike.
    `sample_shape` is the images' (C, H, W) (default: `image_shape` of the rows' length).
    """
    family = get_family(config.model)
    model = family.build(
        sample_shape or image_shape(train_x.shape[1]), config.code_size, config.hidden_sizes, generators["init"]
    )
    train_inputs, test_inputs, transform = noisy_inputs(config, train_x, test_x, generators)
    if family.variational:
        if config.loss == "mse":  # the VAE's decoder is Bernoulli: its reconstruction term is the BCE of [0, 1] values
            raise ConfigError(vae_needs_bce(config, train_x))
        objective = VariationalObjective(config.beta)
    elif config.loss == "mse":
        objective = MSEObjective(config.l1, config.l1_reduction)
    else:
        objective = objective_for(config.l1, config.l1_reduction)
    trainer = Trainer(
        model,
        objective,
        batch_size=config.batch_size,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        generator=generators["order"],
        input_transform=transform,
        quiet=quiet,
        engine=config.engine,
        threads=config.threads,
        clean_epochs=config.clean_epochs,
        device=config.device,
        deterministic=config.deterministic,
    )
    return model, trainer, train_inputs, test_inputs


def final_metrics(
    model: torch.nn.Module,
    history: list[EpochRecord],
    test_x: torch.Tensor,
    test_inputs: torch.Tensor | None,
    loss: str | None = None,
) -> dict:
    """Last epoch's train loss and test metrics (`test_*`); for a denoiser also on clean inputs (`clean_test_*`)."""
    final: dict = {
        "train_loss": history[-1].train_loss,
        **{f"train_{k}": v for k, v in history[-1].train_parts.items()},
    }
    for prefix, inputs in (
        (("test", test_inputs), ("clean_test", test_x)) if test_inputs is not None else (("test", None),)
    ):
        for key, value in reconstruction_metrics(model, test_x, inputs, loss=loss).items():
            final[f"{prefix}_{key}"] = value
    if isinstance(model, VariationalAutoencoder):  # the held-out ELBO and its parts, active dimensions
        final.update({f"test_{key}": value for key, value in variational_metrics(model, test_x, test_inputs).items()})
    return final
