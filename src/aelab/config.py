"""Run configurations: frozen dataclasses, validated in one place, saved as `config.json`.

Every field is a setting declared once in aelab.settings (its range or choices, default and help); a
config checks its fields through those declarations (`check_fields`) and adds only what relates two
settings (β only for a variational model, clean epochs below --epochs). CLI options and their help
text are generated from the fields (`add_arguments`), so the command line, a study file, the Python
API and the saved config cannot drift apart. Nothing writes into a config after it is made; defaults
that depend on other fields (epochs per model) are resolved before.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field

from aelab.devices import check_device, reading_saved
from aelab.errors import ConfigError
from aelab.settings import check_fields, option_flag, refuse, tasks, training
from aelab.settings.tasks import DEFAULT_N_WEIGHTS, parse_classes, parse_code_sizes  # noqa: F401 (re-exported)
from aelab.settings.training import (  # noqa: F401 (re-exported: data/, studies/, tests read them from here)
    ENGINES,
    LOSSES,
    MODEL_NAMES,
    NOISE_KINDS,
    SCALES,
    SWEEP_MODELS,
    VARIATIONAL_NAMES,
)

# The options of your own data, as data/custom/ reads them (its `aelab data inspect` options and paths.py).
DATA_OPTIONS = tuple(setting.name for setting in training.DATA_SETTINGS)
IMAGE_SIZE_HELP, LABEL_COLUMN_HELP = training.IMAGE_SIZE.help, training.LABEL_COLUMN.help
TEST_FRACTION_HELP, SCALE_HELP, LOSS_HELP = training.TEST_FRACTION.help, training.SCALE.help, training.LOSS.help


def option(default, help: str, **extra):
    """A dataclass field that carries its CLI help text but no declared setting (data/custom/options.py's)."""
    return field(default=default, metadata={"help": help, **extra})


def check_data_options(config) -> None:
    """The options of your own data, well-formed (that they come with a PATH is data.custom.paths' check:
    only the data layer knows which names are built-in data sets)."""
    for setting in training.DATA_SETTINGS:
        setting.check(getattr(config, setting.name, None))


def check_placement(config) -> None:
    """The device is present here (its name is the field's own check; a saved run's is not checked: aelab.devices)."""
    check_device(config.device)


def current_json(config_json: dict) -> dict:
    """A saved config.json "config" with old spellings replaced silently by today's (engine "fused" → "compiled"):
    configs read back through it (`JsonConfig.from_json`), and a saved run compared through it is the same
    configuration it was before the rename (a study skips it, a checkpoint continues)."""
    renamed = {setting.name: setting for setting in training.RENAMED_SETTINGS}
    return {k: renamed[k].current(v, warn=False) if k in renamed else v for k, v in config_json.items()}


class JsonConfig:
    """JSON round trip for config dataclasses, so a saved config.json and a new config compare equal."""

    def to_json(self) -> dict:
        """The config as it reads back from config.json (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, data: dict):
        """The config config.json holds; values since renamed (engine "fused") read as today's, silently."""
        fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        unknown = set(data) - set(fields)
        if unknown:
            raise ConfigError(f"config has unknown keys {sorted(unknown)}: expected only {sorted(fields)}")
        data = current_json(data)
        with reading_saved():  # a run trained on a GPU reads back on any machine
            return cls(**{k: tuple(v) if "tuple" in fields[k] and v is not None else v for k, v in data.items()})


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Everything that determines a training run's result."""

    model: str = training.MODEL.field()
    dataset: str = training.DATASET.field()
    code_size: int = training.CODE_SIZE.field()
    hidden_sizes: tuple[int, ...] = training.HIDDEN_SIZES.field()
    epochs: int | None = training.EPOCHS.field(
        default=None,
        optional=True,
        help="passes over the training set (default: the study's: 5 shallow and sparse, 10 "
        "deep and denoising; the Keras examples': 50 conv, 100 conv-denoising, 30 vae, conv-vae and beta-vae)",
    )
    batch_size: int = training.BATCH_SIZE.field()
    learning_rate: float = training.LEARNING_RATE.field()
    seed: int = training.SEED.field()
    train_size: int | None = training.TRAIN_SIZE.field()
    test_size: int | None = training.TEST_SIZE.field()
    noise: str | None = training.NOISE.field()
    noise_factor: float | None = training.NOISE_FACTOR.field()
    fixed_noise: bool = training.FIXED_NOISE.field()
    l1: float | None = training.L1.field()
    l1_reduction: str = training.L1_REDUCTION.field()
    engine: str = training.ENGINE.field()
    threads: int = training.THREADS.field()
    image_size: tuple[int, ...] | None = training.IMAGE_SIZE.field()
    label_column: str | None = training.LABEL_COLUMN.field()
    test_fraction: float | None = training.TEST_FRACTION.field()
    scale: str | None = training.SCALE.field()
    loss: str | None = training.LOSS.field()
    beta: float | None = training.BETA.field()
    train_with_test: bool = training.TRAIN_WITH_TEST.field()
    clean_epochs: int = training.CLEAN_EPOCHS.field()
    device: str = training.DEVICE.field()
    deterministic: bool = training.DETERMINISTIC.field()

    def __post_init__(self) -> None:
        check_fields(self)
        check_noise(self)
        check_variational(self)
        if self.epochs is not None and self.clean_epochs >= self.epochs:
            raise refuse("clean_epochs", self.clean_epochs, training.CLEAN_EPOCHS.what())
        check_placement(self)


def check_noise(config: TrainConfig) -> None:
    """Masking and salt-and-pepper noise corrupt a fraction of the pixels: their factor is at most 1."""
    if config.noise not in (None, "gaussian") and config.noise_factor is not None and config.noise_factor > 1:
        raise refuse("noise_factor", config.noise_factor, "a number in [0, 1]")


def check_variational(config: TrainConfig) -> None:
    """β belongs to the variational families, and L1 does not: their KL term already pulls the code to the prior,
    and an L1 term on a sampled Gaussian code would fight that prior rather than make the code sparse."""
    if config.beta is not None and config.model not in VARIATIONAL_NAMES:
        raise refuse(
            "beta",
            config.beta,
            f"--beta only with a variational model ({', '.join(VARIATIONAL_NAMES)})",
            detail=f" with --model {config.model}",
        )
    if config.l1 and config.model in VARIATIONAL_NAMES:
        raise refuse(
            "l1",
            config.l1,
            "no L1 on a variational model's code (its KL term already regularises it)",
            detail=f" with --model {config.model}",
        )


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


def _argument_type(parse):
    """A setting's `parse` for argparse, which prints an ArgumentTypeError's message after the option's name."""

    def convert(text: str):
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    return convert


# --help's sections, in this order: an option found in none goes under `rest` (add_arguments), the command's own.
OPTION_GROUPS = (
    (
        "the model",
        (
            "model",
            "code_size",
            "code_sizes",
            "hidden_sizes",
            "noise",
            "noise_factor",
            "fixed_noise",
            "l1",
            "l1_reduction",
            "beta",
        ),
    ),
    ("the data", ("dataset", "train_size", "test_size", "classes", *DATA_OPTIONS)),
    ("training", ("epochs", "batch_size", "learning_rate", "seed", "seeds", "train_with_test", "clean_epochs")),
    ("where and how it computes", ("engine", "threads", "device", "deterministic")),
)


def option_group(parser: argparse.ArgumentParser, name: str, rest: str | None):
    """The --help section of option `name` on `parser`, made the first time it is needed (the parser's own
    "options" where it is in no section and `rest` is None)."""
    title = next((title for title, names in OPTION_GROUPS if name in names), rest)
    if title is None:
        return parser
    groups = parser.__dict__.setdefault("aelab_groups", {})
    if title not in groups:
        groups[title] = parser.add_argument_group(title)
    return groups[title]


def add_arguments(parser: argparse.ArgumentParser, cls: type, rest: str | None = None) -> None:
    """Add one `--option` per field of dataclass `cls`, typed and with its help and default, each in its --help
    section (OPTION_GROUPS; the others under `rest`), with its choices shown.

    A setting that suggests a close match (--model) or reads an old name (--engine fused) leaves its
    choices to the config's check, which does both; argparse would refuse them first — so --help shows them
    as the option's metavar."""
    for f in dataclasses.fields(cls):
        group = option_group(parser, f.name, rest)
        annotation, default, flag = str(f.type), f.default, option_flag(f.name)
        help_text = f.metadata.get("help", "")
        if annotation == "bool":  # a flag: present → True; absent → the dataclass default
            group.add_argument(flag, dest=f.name, action="store_const", const=True, default=None, help=help_text)
            continue
        setting, choices, metavar = f.metadata.get("setting"), f.metadata.get("choices"), None
        if setting is not None and (setting.suggest or setting.renamed):
            choices = None  # the config's check refuses, with a suggestion, after reading an old name as today's
            metavar = "{" + ",".join(map(str, setting.choices)) + "}" if setting.choices else None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        parse = f.metadata.get("parse")
        group.add_argument(
            flag,
            dest=f.name,
            type=_argument_type(parse) if parse else _scalar_type(annotation),
            default=None,
            choices=choices,
            metavar=metavar,
            help=help_text + (f" (default: {shown})" if default is not None and "(default:" not in help_text else ""),
        )


def from_arguments(cls: type, args: argparse.Namespace, **overrides):
    """Build `cls` from parsed arguments: options left out keep the dataclass defaults."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
    return cls(**{**given, **overrides})


@dataclass(frozen=True)
class FigureConfig:
    """What the figures of a run show (does not change the trained model)."""

    n_images: int = tasks.N_IMAGES.field()
    n_weights: int | None = tasks.N_WEIGHTS.field()  # None: resolved against the model (runs/figures.py)
    indices: tuple[int, ...] | None = tasks.INDICES.field()
    per_class: bool = tasks.PER_CLASS.field()
    projection: str = tasks.PROJECTION.field()

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class SweepConfig(JsonConfig):
    """A bottleneck sweep: one model per code size and seed, all trained together (see docs/sweep.md)."""

    model: str = training.MODEL.field(
        choices=SWEEP_MODELS,
        suggest=False,
        help="model family: shallow (784→code→784) or deep (784→hidden→code→hidden→784)",
    )
    dataset: str = training.DATASET.field()
    code_sizes: tuple[int, ...] = tasks.CODE_SIZES.field()
    epochs: int = training.EPOCHS.field(help="passes over the training set (the study's 5)")
    batch_size: int = training.BATCH_SIZE.field(
        help="samples per optimiser step, the same batches for every model (the study's 32)"
    )
    learning_rate: float = training.LEARNING_RATE.field()
    seeds: int = training.SEEDS.field()
    seed: int = training.SEED.field(
        help="base seed: the training subset and batch order, and the first model's weights"
    )
    train_size: int | None = training.TRAIN_SIZE.field()
    test_size: int | None = training.TEST_SIZE.field()
    hidden_sizes: tuple[int, ...] = training.HIDDEN_SIZES.field()
    engine: str = training.ENGINE.field()
    image_size: tuple[int, ...] | None = training.IMAGE_SIZE.field()
    label_column: str | None = training.LABEL_COLUMN.field()
    test_fraction: float | None = training.TEST_FRACTION.field()
    scale: str | None = training.SCALE.field()
    device: str = training.DEVICE.field()
    deterministic: bool = training.DETERMINISTIC.field()

    def __post_init__(self) -> None:
        check_fields(self)
        check_placement(self)


@dataclass(frozen=True)
class AnomalyConfig(JsonConfig):
    """The one-class protocol (Ruff et al. 2018): per normal class, train on that class's training images only,
    score every test image; the other classes are the anomalies (see docs/anomaly.md)."""

    model: str = training.MODEL.field(help="model family of each one-class autoencoder (as `aelab train --model`)")
    dataset: str = training.DATASET.field(
        default="mnist",
        help="data set name: mnist or fashion-mnist, or PATH to your own data (labelled: the protocol "
        "over its classes; unlabelled: scores, thresholds and the top anomalies)",
    )
    classes: tuple[int, ...] | None = tasks.CLASSES.field()
    code_size: int = training.CODE_SIZE.field(help="width of the code layer; PCA keeps as many components")
    hidden_sizes: tuple[int, ...] = training.HIDDEN_SIZES.field()
    epochs: int = training.EPOCHS.field(
        default=20, help="passes over the normal class's training images (about 6,000 per class)"
    )
    batch_size: int = training.BATCH_SIZE.field()
    learning_rate: float = training.LEARNING_RATE.field()
    seeds: int = training.SEEDS.field(
        help="models per class, from seeds seed, seed+1, …; the table gives mean ± sd over them"
    )
    seed: int = training.SEED.field(help="base seed: weights and batch order of the first model")
    train_size: int | None = training.TRAIN_SIZE.field(
        help="use a seeded random subset of at most this many training "
        "images of each class (a smaller class: all of it; default: all)"
    )
    test_size: int | None = training.TEST_SIZE.field(
        help="score the first N test images (at most: all when fewer; default: all)"
    )
    neighbours: int = tasks.NEIGHBOURS.field()
    quantile: float = tasks.QUANTILE.field()
    sd_multiplier: float = tasks.SD_MULTIPLIER.field()
    score: str = tasks.SCORE.field()
    engine: str = training.ENGINE.field()
    device: str = training.DEVICE.field()
    deterministic: bool = training.DETERMINISTIC.field()
    image_size: tuple[int, ...] | None = training.IMAGE_SIZE.field()
    label_column: str | None = training.LABEL_COLUMN.field()
    test_fraction: float | None = training.TEST_FRACTION.field()
    scale: str | None = training.SCALE.field()
    loss: str | None = training.LOSS.field(
        help=training.LOSS.help + "; data trained with mse is scored by its squared error only"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        check_placement(self)

    def train_config(self, seed: int) -> TrainConfig:
        """The TrainConfig of one one-class model (data set and sizes are chosen by the anomaly run itself)."""
        return TrainConfig(
            model=self.model,
            dataset=self.dataset,
            code_size=self.code_size,
            hidden_sizes=self.hidden_sizes,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            seed=seed,
            engine=self.engine,
            device=self.device,
            deterministic=self.deterministic,
            scale=self.scale,
            loss=self.loss,
        )


@dataclass(frozen=True)
class ProbeConfig(JsonConfig):
    """How `aelab probe` measures what a code keeps: linear and kNN classifiers trained on the codes."""

    neighbours: int = tasks.NEIGHBOURS.field(help="k of the kNN probe (5, as in the Fashion-MNIST benchmark)")
    max_iter: int = tasks.MAX_ITER.field()
    train_size: int | None = training.TRAIN_SIZE.field(
        default=10_000,  # the whole call in ~15 s instead of ~60 s on MNIST's 60,000: the raw pixels' fits dominate
        help="fit the probes on a seeded random subset of this many training samples, or all of them ('all', as the "
        "published rows; slower, and a subset scores a little lower)",
    )
    tsne_size: int = tasks.TSNE_SIZE.field()
    seed: int = training.SEED.field(help="seed of the subsets and of t-SNE")
    tol: float = tasks.TOL.field()

    def __post_init__(self) -> None:
        check_fields(self)
