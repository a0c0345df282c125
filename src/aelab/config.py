"""Run configurations: frozen dataclasses, validated in one place, saved as `config.json`.

CLI options and their help text are generated from the fields (see `add_arguments`), so the
command line, the saved config and the code cannot drift apart. Nothing writes into a config
after it is made; defaults that depend on other fields (epochs per model) are resolved before.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from aelab.errors import ConfigError


def option(default, help: str, **extra):
    """A dataclass field that also carries its CLI help text."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's result."""

    model: str = option("shallow", "model family: shallow (784→code→784) or deep (784→128→code→128→784)")
    dataset: str = option("fashion-mnist", "data set name: mnist or fashion-mnist")
    code_size: int = option(32, "width of the code (bottleneck) layer")
    hidden_sizes: tuple[int, ...] = option((128,), "hidden widths of a deep model, outermost first, e.g. 256,128")
    epochs: int | None = option(None, "passes over the training set (default: the study's, 5 shallow, 10 deep)")
    batch_size: int = option(32, "samples per optimiser step (the study's 32)")
    learning_rate: float = option(1e-3, "Adam learning rate (Keras' default 1e-3)")
    seed: int = option(0, "seed of every random choice: weights, batch order, noise")
    train_size: int | None = option(None, "train on a seeded random subset of this many images (default: all)")
    test_size: int | None = option(None, "evaluate on the first N test images (default: all)")

    def __post_init__(self) -> None:
        positive = {"code_size": self.code_size, "batch_size": self.batch_size}
        if self.epochs is not None:
            positive["epochs"] = self.epochs
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                positive[name] = getattr(self, name)
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} {value!r}: expected a whole number ≥ 1")
        if not all(isinstance(h, int) and h >= 1 for h in self.hidden_sizes) or not self.hidden_sizes:
            raise ConfigError(f"--hidden-sizes {self.hidden_sizes!r}: expected one or more whole numbers ≥ 1")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise ConfigError(f"--learning-rate {self.learning_rate!r}: expected a number in (0, 10)")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"--seed {self.seed!r}: expected a whole number ≥ 0")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"config has unknown keys {sorted(unknown)}: expected only {sorted(known)}")
        if "hidden_sizes" in data:
            data = {**data, "hidden_sizes": tuple(data["hidden_sizes"])}
        return cls(**data)


def _parse_int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': expected whole numbers separated by commas") from None


def _scalar_type(annotation: str):
    """The argparse converter of a field, from its (string) annotation."""
    if "tuple" in annotation:
        return _parse_int_tuple
    for name, kind in (("int", int), ("float", float), ("str", str)):
        if annotation.startswith(name):
            return kind
    raise TypeError(f"no CLI type for annotation {annotation!r}")


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one `--option` per field of dataclass `cls`, typed and with its help and default."""
    for f in dataclasses.fields(cls):
        annotation, default = str(f.type), f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", dest=f.name, type=_scalar_type(annotation), default=None,
            help=f"{f.metadata.get('help', '')}" + (f" (default: {shown})" if default is not None else ""),
        )


def from_arguments(cls: type, args: argparse.Namespace, **overrides):
    """Build `cls` from parsed arguments: options left out keep the dataclass defaults."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
    return cls(**{**given, **overrides})


@dataclass(frozen=True)
class FigureConfig:
    """What the figures of a run show (does not change the trained model)."""

    n_images: int = option(10, "how many test images to show, originals over reconstructions")
    n_weights: int = option(16, "how many first-layer encoder units to draw as 28×28 images")

    def __post_init__(self) -> None:
        for name in ("n_images", "n_weights"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} {value!r}: expected a whole number ≥ 1")
