"""Run configurations: frozen dataclasses, validated in one place, saved as `config.json`.

CLI options and their help text are generated from the fields (see `add_arguments`), so the
command line, the saved config and the code cannot drift apart. Nothing writes into a config
after it is made; defaults that depend on other fields (epochs per model) are resolved before.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field

from aelab.devices import DEVICES, check_device, reading_saved
from aelab.errors import ConfigError
from aelab.registries import lookup


NOISE_KINDS = ("gaussian", "masking", "salt-pepper")
# The model families' names, so a config refuses a typo when it is made; models.registry builds them
# (this layer cannot import models: imports run one way) and a test keeps the two lists equal.
MODEL_NAMES = ("shallow", "deep", "denoising", "sparse", "conv", "conv-denoising", "vae", "conv-vae", "beta-vae")
VARIATIONAL_NAMES = ("vae", "conv-vae", "beta-vae")  # the families with a Gaussian code (models.registry's `variational`)
BETA_LIMIT = 1000.0
ENGINES = ("fused", "autograd")
L1_LIMIT = 1000.0  # an L1 weight this large only zeroes the code: surely a typo


DEVICE_HELP = ("where to train: cpu, cuda (an NVIDIA GPU), mps (an Apple GPU) or auto (cuda if there is one, else mps, "
               "else cpu); the data stays resident there, the weights are saved as CPU tensors; the compiled engine is "
               "the CPU's, on a GPU the autograd step runs (captured as a CUDA graph on cuda; docs/devices.md)")
DETERMINISTIC_HELP = ("PyTorch's deterministic algorithms (and CUBLAS_WORKSPACE_CONFIG on CUDA): a GPU run repeats bit for "
                      "bit on the same card and software; see docs/devices.md for what matches across devices")


def option(default, help: str, **extra):
    """A dataclass field that also carries its CLI help text."""
    return field(default=default, metadata={"help": help, **extra})


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_counts(**values) -> None:
    """Each value (None = not given) must be a whole number ≥ 1; the error names the CLI option."""
    for name, value in values.items():
        if value is not None and (not _whole(value) or value < 1):
            raise ConfigError(f"--{name.replace('_', '-')} {value!r}: expected a whole number ≥ 1")


def check_common(config) -> None:
    """Validation shared by every training config: hidden sizes, learning rate, seed."""
    if not isinstance(config.hidden_sizes, tuple) or not config.hidden_sizes or not all(_whole(h) and h >= 1 for h in config.hidden_sizes):
        raise ConfigError(f"--hidden-sizes {config.hidden_sizes!r}: expected one or more whole numbers ≥ 1")
    if not (isinstance(config.learning_rate, (int, float)) and 0 < config.learning_rate < 10):
        raise ConfigError(f"--learning-rate {config.learning_rate!r}: expected a number in (0, 10)")
    if not _whole(config.seed) or config.seed < 0:
        raise ConfigError(f"--seed {config.seed!r}: expected a whole number ≥ 0")


# Options of `--dataset PATH` (your own data: data/custom/); the built-in data sets take none of them.
SCALES = ("none", "minmax", "standard")
LOSSES = ("bce", "mse")
IMAGE_SIZE_HELP = "with --dataset FOLDER of images: resize every image to H,W (default: all must have one size)"
LABEL_COLUMN_HELP = ("with --dataset TABLE.csv/.tsv: the column holding the labels, by header name or 0-based index "
                     "(default: no labels, every column is a feature)")
TEST_FRACTION_HELP = ("with --dataset PATH that has no test split of its own: the fraction of samples held out for "
                      "testing, drawn with --seed and recorded in the run (default: 0.2)")
SCALE_HELP = ("with --dataset PATH: scaling of each feature, fitted on the training split only and recorded: minmax "
              "(to [0, 1]), standard (zero mean, unit variance) or none (default: none when the values are uint8 "
              "(divided by 255) or in [0, 1], else standard)")
LOSS_HELP = ("with --dataset PATH: reconstruction loss, bce (sigmoid output; values in [0, 1]) or mse (linear output) "
             "(default: bce for values in [0, 1] from images, arrays or IDX; mse for tables and other values)")


DATA_OPTIONS = ("image_size", "label_column", "test_fraction", "scale", "loss")


def check_data_options(config) -> None:
    """The options of your own data, well-formed (that they come with a PATH is data.custom.paths' check:
    only the data layer knows which names are built-in data sets)."""
    size = config.image_size
    if size is not None and (not isinstance(size, tuple) or len(size) != 2 or not all(_whole(v) and v >= 1 for v in size)):
        raise ConfigError(f"--image-size {size!r}: expected H,W: two whole numbers ≥ 1")
    if config.label_column is not None and (not isinstance(config.label_column, str) or not config.label_column):
        raise ConfigError(f"--label-column {config.label_column!r}: expected a column name or 0-based index")
    fraction = config.test_fraction
    if fraction is not None and not (isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and 0 < fraction < 1):
        raise ConfigError(f"--test-fraction {fraction!r}: expected a number in (0, 1)")
    if config.scale is not None and config.scale not in SCALES:
        raise ConfigError(f"--scale {config.scale!r}: expected one of {', '.join(SCALES)}")
    if getattr(config, "loss", None) is not None and config.loss not in LOSSES:
        raise ConfigError(f"--loss {config.loss!r}: expected one of {', '.join(LOSSES)}")


class JsonConfig:
    """JSON round trip for config dataclasses, so a saved config.json and a new config compare equal."""

    def to_json(self) -> dict:
        """The config as it reads back from config.json (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, data: dict):
        fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        unknown = set(data) - set(fields)
        if unknown:
            raise ConfigError(f"config has unknown keys {sorted(unknown)}: expected only {sorted(fields)}")
        with reading_saved():  # a run trained on a GPU reads back on any machine
            return cls(**{k: tuple(v) if "tuple" in fields[k] and v is not None else v for k, v in data.items()})


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Everything that determines a training run's result."""

    model: str = option("shallow", "model family: shallow (784→code→784), deep (784→128→code→128→784), "
                        "denoising (deep, Gaussian input noise 0.2), sparse (shallow, L1 on the code), conv and conv-denoising (the Keras "
                        "conv example, noise 0.4), vae (dense, Gaussian code), conv-vae (the Keras VAE example) or beta-vae")
    dataset: str = option("fashion-mnist", "data set name: mnist or fashion-mnist, or PATH to your own data (an image folder, "
                          ".npy, .npz, .csv/.tsv, or IDX files; see `aelab data inspect PATH`)")
    code_size: int = option(32, "width of the code (bottleneck) layer")
    hidden_sizes: tuple[int, ...] = option((128,), "hidden widths of a deep model, outermost first, e.g. 256,128")
    epochs: int | None = option(None, "passes over the training set (default: the study's: 5 shallow and sparse, 10 deep and denoising; the Keras examples': 50 conv, 100 "
                                      "conv-denoising, 30 vae, conv-vae and beta-vae)")
    batch_size: int = option(32, "samples per optimiser step (the study's 32)")
    learning_rate: float = option(1e-3, "Adam learning rate (Keras' default 1e-3)")
    seed: int = option(0, "seed of every random choice: weights, batch order, noise")
    train_size: int | None = option(None, "train on a seeded random subset of this many images (default: all)")
    test_size: int | None = option(None, "evaluate on the first N test images (default: all)")
    noise: str | None = option(None, "input corruption for a denoising run: gaussian (clip(x + f·N(0,1), 0, 1)), "
                               "masking (a fraction f of pixels zeroed) or salt-pepper (a fraction f set to 0 or 1); "
                               "the target stays clean (default: none; gaussian for --model denoising)", choices=NOISE_KINDS)
    noise_factor: float | None = option(None, "f: the Gaussian noise's standard deviation, or the fraction of corrupted "
                                        "pixels (default: 0.2; 0.4 for --model conv-denoising, as the Keras example)")
    fixed_noise: bool = option(False, "draw the training noise once, as the original study did (default: fresh noise "
                               "every epoch, which the model cannot memorise)")
    l1: float | None = option(None, "weight of the L1 penalty on the code activations, in [0, 1000) (default: 1e-5 for "
                              "--model sparse, else 0)")
    l1_reduction: str = option("mean", "how the L1 term is reduced over the batch: mean (per-sample, as tf.keras and "
                               "Keras 3) or sum (over the batch, as Keras 2.0; grows with batch size)", choices=("mean", "sum"))
    engine: str = option("fused", "how a step is computed: fused (hand-written forward, backward and Adam in one flat "
                         "buffer, ~3× faster) or autograd (PyTorch autograd + torch.optim.Adam, the reference); "
                         "same math, results agree to float32 rounding", choices=ENGINES)
    threads: int = option(0, "threads of the compiled step: 1, 2 to split each batch's work over two cores, or 0 "
                          "(default) for 2 when PyTorch has two or more threads here (a model trained alone) and 1 "
                          "otherwise (inside `aelab run`'s parallel steps); measured: two threads take 0.7-0.9× the "
                          "time of one (BENCHMARKS.md); results agree to float32 rounding", choices=(0, 1, 2))
    image_size: tuple[int, ...] | None = option(None, IMAGE_SIZE_HELP)
    label_column: str | None = option(None, LABEL_COLUMN_HELP)
    test_fraction: float | None = option(None, TEST_FRACTION_HELP)
    scale: str | None = option(None, SCALE_HELP, choices=SCALES)
    loss: str | None = option(None, LOSS_HELP, choices=LOSSES)
    beta: float | None = option(None, "weight of the KL term of a variational model (vae, conv-vae, beta-vae): the "
                                "β of β-VAE (Higgins et al. 2017), in (0, 1000] (default: 1.0; 4.0 for --model beta-vae)")
    train_with_test: bool = option(False, "train on the training and test images together, as the Keras VAE example "
                                   "does (MNIST's 70,000); the test metrics are then on images seen in training")
    clean_epochs: int = option(0, "epochs trained on clean inputs before the noise starts, one model and optimiser "
                               "throughout: the Keras conv example trains 50 epochs clean, then 100 as a denoiser")
    device: str = option("cpu", DEVICE_HELP, choices=DEVICES)
    deterministic: bool = option(False, DETERMINISTIC_HELP)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str):
            raise ConfigError(f"--model {self.model!r}: expected one of {', '.join(MODEL_NAMES)}")
        lookup(self.model, dict.fromkeys(MODEL_NAMES), "model")  # a typo gets a close-match suggestion
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine {self.engine!r}: expected one of {', '.join(ENGINES)}")
        if self.threads not in (0, 1, 2) or not _whole(self.threads):
            raise ConfigError(f"--threads {self.threads!r}: expected 0 (automatic), 1 or 2")
        check_counts(code_size=self.code_size, batch_size=self.batch_size, epochs=self.epochs,
                     train_size=self.train_size, test_size=self.test_size)
        check_common(self)
        if self.noise is not None and self.noise not in NOISE_KINDS:
            raise ConfigError(f"--noise {self.noise!r}: expected one of {', '.join(NOISE_KINDS)}")
        limit = 10.0 if self.noise in (None, "gaussian") else 1.0
        if self.noise_factor is not None and not (isinstance(self.noise_factor, (int, float)) and 0 <= self.noise_factor <= limit):
            raise ConfigError(f"--noise-factor {self.noise_factor!r}: expected a number in [0, {limit:g}]")
        if self.l1 is not None and not (isinstance(self.l1, (int, float)) and 0 <= self.l1 < L1_LIMIT):
            raise ConfigError(f"--l1 {self.l1!r}: expected a number in [0, {L1_LIMIT:g})")
        if self.l1_reduction not in ("mean", "sum"):
            raise ConfigError(f"--l1-reduction {self.l1_reduction!r}: expected mean or sum")
        check_data_options(self)
        check_variational(self)
        if not _whole(self.clean_epochs) or self.clean_epochs < 0 or (self.epochs is not None and self.clean_epochs >= self.epochs):
            raise ConfigError(f"--clean-epochs {self.clean_epochs!r}: expected a whole number ≥ 0 and below --epochs")
        check_placement(self)


def check_placement(config) -> None:
    """The device (known by name, and present here: aelab.devices) and the --deterministic flag."""
    check_device(config.device)
    if not isinstance(config.deterministic, bool):
        raise ConfigError(f"--deterministic {config.deterministic!r}: expected true or false")


def check_variational(config: TrainConfig) -> None:
    """β belongs to the variational families, and L1 does not: their KL term already pulls the code to the prior,
    and an L1 term on a sampled Gaussian code would fight that prior rather than make the code sparse."""
    if config.beta is not None and not (isinstance(config.beta, (int, float)) and 0 < config.beta <= BETA_LIMIT):
        raise ConfigError(f"--beta {config.beta!r}: expected a number in (0, {BETA_LIMIT:g}]")
    if config.beta is not None and config.model not in VARIATIONAL_NAMES:
        raise ConfigError(f"--beta {config.beta!r} with --model {config.model}: expected --beta only with a variational "
                          f"model ({', '.join(VARIATIONAL_NAMES)})")
    if config.l1 and config.model in VARIATIONAL_NAMES:
        raise ConfigError(f"--l1 {config.l1!r} with --model {config.model}: expected no L1 on a variational model's code "
                          "(its KL term already regularises it)")


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
        annotation, default, flag = str(f.type), f.default, f"--{f.name.replace('_', '-')}"
        if annotation == "bool":  # a flag: present → True; absent → the dataclass default
            parser.add_argument(flag, dest=f.name, action="store_const", const=True, default=None, help=f.metadata.get("help"))
            continue
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        explicit = "(default:" in f.metadata.get("help", "")
        parser.add_argument(
            flag, dest=f.name, type=f.metadata.get("parse") or _scalar_type(annotation), default=None,
            choices=f.metadata.get("choices"),
            help=f.metadata.get("help", "") + (f" (default: {shown})" if default is not None and not explicit else ""),
        )


def from_arguments(cls: type, args: argparse.Namespace, **overrides):
    """Build `cls` from parsed arguments: options left out keep the dataclass defaults."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
    return cls(**{**given, **overrides})


DEFAULT_N_WEIGHTS = 16


@dataclass(frozen=True)
class FigureConfig:
    """What the figures of a run show (does not change the trained model)."""

    n_images: int = option(10, "how many test images to show, originals over reconstructions")
    n_weights: int | None = option(None, "how many first-layer encoder units to draw as 28×28 images (default: "
                                   f"{DEFAULT_N_WEIGHTS}, or every unit when the first layer has fewer)")
    indices: tuple[int, ...] | None = option(None, "test images to show, by index, e.g. 0,7,42 (default: the first --n-images)")
    per_class: bool = option(False, "show one test image of each class (the first of each label) instead")
    projection: str = option("pca", "how codes of more than two dimensions are drawn in codes.png: pca (linear: distances "
                             "mean what they mean in the code) or tsne (scikit-learn's t-SNE: neighbourhoods)",
                             choices=("pca", "tsne"))

    def __post_init__(self) -> None:
        for name in ("n_images", "n_weights"):
            value = getattr(self, name)
            if name == "n_weights" and value is None:  # resolved against the model (run_figures.resolve_figures)
                continue
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} {value!r}: expected a whole number ≥ 1")
        if self.projection not in ("pca", "tsne"):
            raise ConfigError(f"--projection {self.projection!r}: expected pca or tsne")
        if self.indices is not None and (not self.indices or min(self.indices) < 0):
            raise ConfigError(f"--indices {self.indices!r}: expected test image indices ≥ 0")


SWEEP_MODELS = ("shallow", "deep")


def parse_code_sizes(text: str) -> tuple[int, ...]:
    """Code sizes from a list ("5,10,32,64") or a range ("5:100:15" → 5, 20, …, 95; "a:b" steps by 1).

    A range is Python's `range(a, b, s)` (b excluded); a list is returned sorted. Sizes must be
    whole numbers ≥ 1, each at most once, and at least one; anything else is a one-line ConfigError.
    """
    def fail(reason: str) -> ConfigError:
        return ConfigError(f"--code-sizes {text!r}: {reason}: expected a list like 5,10,32 or a range start:stop:step "
                           "like 5:100:15 of whole numbers ≥ 1")

    if not text.strip():
        raise fail("empty")
    is_range = ":" in text
    try:
        parts = [int(part) for part in text.split(":" if is_range else ",")]
    except ValueError:
        raise fail("not whole numbers") from None
    if is_range and len(parts) not in (2, 3):
        raise fail("a range has 2 or 3 parts")
    if is_range and len(parts) == 3 and parts[2] < 1:
        raise fail("the step must be ≥ 1")
    sizes = list(range(*parts)) if is_range else sorted(parts)
    if not sizes:
        raise fail("the range is empty")
    if sizes[0] < 1:
        raise fail(f"size {sizes[0]} is below 1")
    if len(set(sizes)) != len(sizes):
        raise fail("a size is given twice")
    return tuple(sizes)


def _code_sizes_argument(text: str) -> tuple[int, ...]:
    """`parse_code_sizes` for argparse, which prints an ArgumentTypeError's message after the option's name."""
    try:
        return parse_code_sizes(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--code-sizes ")) from None


@dataclass(frozen=True)
class SweepConfig(JsonConfig):
    """A bottleneck sweep: one model per code size and seed, all trained together (see docs/sweep.md)."""

    model: str = option("shallow", "model family: shallow (784→code→784) or deep (784→hidden→code→hidden→784)",
                        choices=SWEEP_MODELS)
    dataset: str = option("fashion-mnist", "data set name: mnist or fashion-mnist, or PATH to your own data (an image folder, "
                          ".npy, .npz, .csv/.tsv, or IDX files; see `aelab data inspect PATH`)")
    code_sizes: tuple[int, ...] = option((5, 20, 35, 50, 65, 80, 95), "code sizes: a list (5,10,32,64) or a range "
                                         "start:stop:step, stop excluded (5:100:15 → 5,20,…,95)",
                                         parse=_code_sizes_argument)
    epochs: int = option(5, "passes over the training set (the study's 5)")
    batch_size: int = option(32, "samples per optimiser step, the same batches for every model (the study's 32)")
    learning_rate: float = option(1e-3, "Adam learning rate (Keras' default 1e-3)")
    seeds: int = option(1, "models per code size, initialised from seeds seed, seed+1, …; their spread measures variance")
    seed: int = option(0, "base seed: the training subset and batch order, and the first model's weights")
    train_size: int | None = option(None, "train on a seeded random subset of this many images (default: all)")
    test_size: int | None = option(None, "evaluate on the first N test images (default: all)")
    hidden_sizes: tuple[int, ...] = option((128,), "hidden widths of the deep model, outermost first, e.g. 256,128")
    engine: str = option("fused", "how a step is computed: fused (all models' forward, backward and Adam by hand, "
                         "~3× faster) or autograd (the reference); same math", choices=ENGINES)
    image_size: tuple[int, ...] | None = option(None, IMAGE_SIZE_HELP)
    label_column: str | None = option(None, LABEL_COLUMN_HELP)
    test_fraction: float | None = option(None, TEST_FRACTION_HELP)
    scale: str | None = option(None, SCALE_HELP, choices=SCALES)
    device: str = option("cpu", DEVICE_HELP, choices=DEVICES)
    deterministic: bool = option(False, DETERMINISTIC_HELP)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine {self.engine!r}: expected one of {', '.join(ENGINES)}")
        if self.model not in SWEEP_MODELS:
            raise ConfigError(f"--model {self.model!r}: expected one of {', '.join(SWEEP_MODELS)}")
        sizes = self.code_sizes
        if (not isinstance(sizes, tuple) or not sizes or not all(_whole(k) and k >= 1 for k in sizes)
                or list(sizes) != sorted(set(sizes))):
            raise ConfigError(f"--code-sizes {sizes!r}: expected distinct whole numbers ≥ 1 in increasing order")
        check_counts(epochs=self.epochs, batch_size=self.batch_size, seeds=self.seeds,
                     train_size=self.train_size, test_size=self.test_size)
        check_common(self)
        check_data_options(self)
        check_placement(self)


THRESHOLD_QUANTILE_RANGE = (0.5, 1.0)  # a quantile below the median would flag most normal images


def parse_classes(text: str) -> tuple[int, ...]:
    """Normal classes from a comma-separated list ("0,3,7"): whole numbers ≥ 0, each once, sorted."""
    try:
        classes = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--classes {text!r}: expected class labels separated by commas, like 0,3,7") from None
    if not classes or min(classes) < 0 or len(set(classes)) != len(classes):
        raise ConfigError(f"--classes {text!r}: expected distinct class labels ≥ 0, like 0,3,7")
    return tuple(sorted(classes))


def argument_type(parse, flag: str):
    """`parse` for argparse, which prints an ArgumentTypeError's message after the option's name (`flag`)."""
    def convert(text: str):
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag} ")) from None
    return convert


@dataclass(frozen=True)
class AnomalyConfig(JsonConfig):
    """The one-class protocol (Ruff et al. 2018): per normal class, train on that class's training images only,
    score every test image; the other classes are the anomalies (see docs/anomaly.md)."""

    model: str = option("shallow", "model family of each one-class autoencoder (as `aelab train --model`)",
                        choices=MODEL_NAMES)
    dataset: str = option("mnist", "data set name: mnist or fashion-mnist, or PATH to your own data (labelled: the "
                          "protocol over its classes; unlabelled: scores, thresholds and the top anomalies)")
    classes: tuple[int, ...] | None = option(None, "normal classes to run, e.g. 0,3,7 (default: every class)",
                                             parse=argument_type(parse_classes, "--classes"))
    code_size: int = option(32, "width of the code layer; PCA keeps as many components")
    hidden_sizes: tuple[int, ...] = option((128,), "hidden widths of a deep model, outermost first")
    epochs: int = option(20, "passes over the normal class's training images (about 6,000 per class)")
    batch_size: int = option(32, "samples per optimiser step")
    learning_rate: float = option(1e-3, "Adam learning rate")
    seeds: int = option(1, "models per class, from seeds seed, seed+1, …; the table gives mean ± sd over them")
    seed: int = option(0, "base seed: weights and batch order of the first model")
    train_size: int | None = option(None, "use a seeded random subset of at most this many training images of each "
                                    "class (a smaller class: all of it; default: all)")
    test_size: int | None = option(None, "score the first N test images (at most: all when fewer; default: all)")
    neighbours: int = option(5, "k of the kNN baselines: the score is the mean distance to the k nearest training "
                             "images (pixels) or codes")
    quantile: float = option(0.95, "threshold rule 1: this quantile of the training images' scores, in [0.5, 1)")
    sd_multiplier: float = option(1.0, "threshold rule 2: mean + k·sd of the training scores (TensorFlow's "
                                  "autoencoder tutorial uses k = 1)")
    score: str = option("sse", "the autoencoder's score for thresholds and figures: sse (per-image sum of squared "
                        "error) or bce (per-image mean binary cross-entropy)", choices=("sse", "bce"))
    engine: str = option("fused", "how a step is computed: fused (compiled) or autograd (the reference)", choices=ENGINES)
    device: str = option("cpu", DEVICE_HELP, choices=DEVICES)
    deterministic: bool = option(False, DETERMINISTIC_HELP)
    image_size: tuple[int, ...] | None = option(None, IMAGE_SIZE_HELP)
    label_column: str | None = option(None, LABEL_COLUMN_HELP)
    test_fraction: float | None = option(None, TEST_FRACTION_HELP)
    scale: str | None = option(None, SCALE_HELP, choices=SCALES)
    loss: str | None = option(None, LOSS_HELP + "; data trained with mse is scored by its squared error only",
                              choices=LOSSES)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str):
            raise ConfigError(f"--model {self.model!r}: expected one of {', '.join(MODEL_NAMES)}")
        lookup(self.model, dict.fromkeys(MODEL_NAMES), "model")
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine {self.engine!r}: expected one of {', '.join(ENGINES)}")
        check_data_options(self)
        if self.score not in ("sse", "bce"):
            raise ConfigError(f"--score {self.score!r}: expected sse or bce")
        if self.classes is not None and (not isinstance(self.classes, tuple) or not self.classes
                                         or not all(_whole(c) and c >= 0 for c in self.classes)
                                         or list(self.classes) != sorted(set(self.classes))):
            raise ConfigError(f"--classes {self.classes!r}: expected distinct class labels ≥ 0 in increasing order")
        check_counts(code_size=self.code_size, epochs=self.epochs, batch_size=self.batch_size, seeds=self.seeds,
                     train_size=self.train_size, test_size=self.test_size, neighbours=self.neighbours)
        check_common(self)
        low, high = THRESHOLD_QUANTILE_RANGE
        if not (isinstance(self.quantile, (int, float)) and low <= self.quantile < high):
            raise ConfigError(f"--quantile {self.quantile!r}: expected a number in [{low:g}, {high:g})")
        if not (isinstance(self.sd_multiplier, (int, float)) and 0 <= self.sd_multiplier <= 100):
            raise ConfigError(f"--sd-multiplier {self.sd_multiplier!r}: expected a number in [0, 100]")
        check_placement(self)

    def train_config(self, seed: int) -> TrainConfig:
        """The TrainConfig of one one-class model (data set and sizes are chosen by the anomaly run itself)."""
        return TrainConfig(model=self.model, dataset=self.dataset, code_size=self.code_size,
                           hidden_sizes=self.hidden_sizes, epochs=self.epochs, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, seed=seed, engine=self.engine, device=self.device,
                           deterministic=self.deterministic, scale=self.scale, loss=self.loss)


@dataclass(frozen=True)
class ProbeConfig(JsonConfig):
    """How `aelab probe` measures what a code keeps: linear and kNN classifiers trained on the codes."""

    neighbours: int = option(5, "k of the kNN probe (the issue's and the Fashion-MNIST benchmark's 5)")
    max_iter: int = option(1000, "iterations of the logistic regression's L-BFGS solver")
    train_size: int | None = option(None, "fit the probes on a seeded random subset of this many training images "
                                    "(default: all 60,000)")
    tsne_size: int = option(2000, "test images in the t-SNE figure (t-SNE costs grow as n log n; 2,000 take seconds)")
    seed: int = option(0, "seed of the subsets and of t-SNE")
    tol: float = option(1e-3, "stopping tolerance of the linear probe's L-BFGS (largest gradient entry): 1e-3 stops "
                        "raw pixels after ~40 (MNIST) to ~130 (Fashion-MNIST) iterations, within ±0.01 of the "
                        "published rows; scikit-learn's 1e-4 takes ~1,000 on Fashion-MNIST's pixels")

    def __post_init__(self) -> None:
        check_counts(neighbours=self.neighbours, max_iter=self.max_iter, train_size=self.train_size,
                     tsne_size=self.tsne_size)
        if not _whole(self.seed) or self.seed < 0:
            raise ConfigError(f"--seed {self.seed!r}: expected a whole number ≥ 0")
        if isinstance(self.tol, bool) or not (isinstance(self.tol, (int, float)) and 0 < self.tol < 1):
            raise ConfigError(f"--tol {self.tol!r}: expected a number in (0, 1)")
