"""Whether a cell's config fits its data set: what its run would refuse (or crash on) only after reading the data,
checked before anything is read or written, from what is known without reading it.

A built-in data set's sizes and classes are in its spec (data/registry.py), so a training subset larger
than the training set, or a class it does not have, is refused here rather than by the step itself,
halfway through a study whose folder is already made. Your own data is read only when its step runs,
so of it only what the settings alone decide is checked (a convolutional model's image size, a loss the
model cannot train with). Each refusal is `settings.refuse`'s: it names the setting, so the study file's
error points at the key's line (studies/preflight.py).
"""

from __future__ import annotations

import math

from aelab.config import AnomalyConfig, SweepConfig, TrainConfig
from aelab.data.custom.paths import is_path
from aelab.data.registry import get_spec
from aelab.errors import ConfigError
from aelab.models.conv import check_sample_shape
from aelab.models.registry import get_family
from aelab.settings import refuse
from aelab.studies.plan import n_parameters
from aelab.tasks.anomaly.data import MIN_CLASS_SAMPLES

# Weights per run: a billion float32 parameters are 4 GB, 16 GB with their gradients and Adam's two moments — beyond
# the machines aelab is made for (the classic study runs in 1 GiB); more is a typo such as code_size = 10**12, which
# would otherwise end in an allocation error's traceback, or an integer overflow, once the step starts.
MAX_PARAMETERS = 1_000_000_000


def check_fits(kind: str, config: TrainConfig | SweepConfig | AnomalyConfig | None) -> None:
    """Refuse (a ConfigError naming the setting) what the run of `config` would refuse or crash on after reading its
    data; `kind` is the planned run's ("train", "sweep", "anomaly" or "gradients": nothing to check)."""
    if config is None:
        return
    spec = None if is_path(config.dataset) else get_spec(config.dataset)
    if kind in ("train", "sweep"):
        check_sizes(config, spec)
    if kind == "anomaly":
        check_anomaly(config, spec)
    check_parameters(kind, config, spec)
    if kind != "sweep":
        check_model(config)


def check_sizes(config: TrainConfig | SweepConfig, spec) -> None:
    """The training subset and the test images within the built-in data set's splits (as tasks/recipe.select)."""
    if spec is None:
        return
    n_train = spec.n_train + (spec.n_test if getattr(config, "train_with_test", False) else 0)
    if config.train_size is not None and config.train_size > n_train:
        raise refuse("train_size", config.train_size, f"at most {n_train} (the training set of {spec.name})")
    if config.test_size is not None and config.test_size > spec.n_test:
        raise refuse("test_size", config.test_size, f"at most {spec.n_test} (the test set of {spec.name})")


def check_anomaly(config: AnomalyConfig, spec) -> None:
    """A training subset PCA and a threshold can use, and classes the built-in data set has (tasks/anomaly/data.py)."""
    if config.train_size is not None and config.train_size < MIN_CLASS_SAMPLES:
        raise refuse("train_size", config.train_size, f"at least {MIN_CLASS_SAMPLES} (for PCA and the thresholds)")
    if config.loss == "mse" and config.score == "bce":
        raise refuse("score", config.score, "sse with loss mse (values outside [0, 1] have no binary cross-entropy)")
    present = range(len(spec.class_names)) if spec is not None else None
    if present is not None and config.classes is not None and any(c not in present for c in config.classes):
        expected = f"some of {','.join(map(str, present))} (the classes of {spec.name})"
        raise refuse("classes", config.classes, expected)


def check_parameters(kind: str, config, spec) -> None:
    """At most MAX_PARAMETERS weights in one run (a sweep's models together), counted as the dense model's (a bound of
    the right size for conv-vae's dense code too); your own data counts as its image size, else as one feature per
    sample, a lower bound, since its width is known only once it is read."""
    family = get_family(config.model)
    if not family.uses_code_size:  # the conv models: weights fixed by the architecture (conv-vae's code is dense)
        return
    n_features = spec.n_features if spec is not None else math.prod(getattr(config, "image_size", None) or (1,))
    hidden = config.hidden_sizes if family.uses_hidden_sizes else ()
    codes = config.code_sizes if kind == "sweep" else (config.code_size,)
    copies = config.seeds if kind == "sweep" else 1
    largest = n_parameters(n_features, max(codes), hidden)
    total = copies * sum(n_parameters(n_features, k, hidden) for k in codes)
    if total <= MAX_PARAMETERS:
        return
    if largest <= MAX_PARAMETERS:  # each model fits, a sweep's (or a batched grid's) models together do not
        key = "seeds" if copies > len(codes) else "code_sizes"
    else:
        key = (
            "hidden_sizes" if max(hidden, default=0) > max(codes) else "code_sizes" if kind == "sweep" else "code_size"
        )
    expected = f"at most {MAX_PARAMETERS:,} parameters in one run"
    raise refuse(key, getattr(config, key), expected, detail=f" makes a run of {total:,}")


def check_model(config: TrainConfig | AnomalyConfig) -> None:
    """What the model family takes whatever the data holds: a convolutional model's image size (H and W divisible
    by 4, where the settings fix it), a variational model's BCE loss (tasks/recipe.model_and_trainer)."""
    family = get_family(config.model)
    if family.convolutional and getattr(config, "image_size", None) is not None:
        try:
            check_sample_shape((1, *config.image_size), config.model)
        except ConfigError:
            expected = f"H and W divisible by 4 for model {config.model} (the convolutional models halve them twice)"
            raise refuse("image_size", config.image_size, expected) from None
    if family.variational and config.loss == "mse":
        expected = f"loss bce for model {config.model} (a variational model's decoder models values in [0, 1])"
        raise refuse("loss", config.loss, expected)
