"""The settings of the tasks beside training one model — a sweep's code sizes, the one-class protocol (anomaly),
the probes of the codes, a run's figures — with the parsers of the two that the command line reads as lists.
"""

from __future__ import annotations

from aelab.errors import ConfigError
from aelab.settings import COUNT, Setting, ascending, number, refuse, wholes

THRESHOLD_QUANTILE_RANGE = (0.5, 1.0)  # a quantile below the median would flag most normal images


def parse_code_sizes(text: str) -> tuple[int, ...]:
    """Code sizes from a list ("5,10,32,64") or a range ("5:100:15" → 5, 20, …, 95; "a:b" steps by 1).

    A range is Python's `range(a, b, s)` (b excluded); a list is returned sorted. Sizes must be
    whole numbers ≥ 1, each at most once, and at least one; anything else is a one-line ConfigError.
    """

    def fail(reason: str) -> ConfigError:
        return refuse(
            "code_sizes",
            text,
            "a list like 5,10,32 or a range start:stop:step like 5:100:15 of whole numbers ≥ 1",
            detail=f": {reason}",
        )

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


def parse_classes(text: str) -> tuple[int, ...]:
    """Normal classes from a comma-separated list ("0,3,7"): whole numbers ≥ 0, each once, sorted."""
    try:
        classes = [int(part) for part in text.split(",")]
    except ValueError:
        raise refuse("classes", text, "class labels separated by commas, like 0,3,7") from None
    if not classes or min(classes) < 0 or len(set(classes)) != len(classes):
        raise refuse("classes", text, "distinct class labels ≥ 0, like 0,3,7")
    return tuple(sorted(classes))


# --- a sweep, the one-class protocol, the probes ---------------------------------------------------------------------
CODE_SIZES = Setting(
    "code_sizes",
    (5, 20, 35, 50, 65, 80, 95),
    "code sizes: a list (5,10,32,64) or a range start:stop:step, stop excluded (5:100:15 → 5,20,…,95)",
    "distinct whole numbers ≥ 1 in increasing order",
    ascending(1),
    parse=parse_code_sizes,
)
CLASSES = Setting(
    "classes",
    None,
    "normal classes to run, e.g. 0,3,7 (default: every class)",
    "distinct class labels ≥ 0 in increasing order",
    ascending(0),
    optional=True,
    parse=parse_classes,
)
NEIGHBOURS = Setting(
    "neighbours",
    5,
    "k of the kNN baselines: the score is the mean distance to the k nearest training images (pixels) or codes",
    COUNT,
    wholes(1),
)
QUANTILE = Setting(
    "quantile",
    0.95,
    "threshold rule 1: this quantile of the training images' scores, in [0.5, 1)",
    "a number in [{:g}, {:g})".format(*THRESHOLD_QUANTILE_RANGE),
    lambda v: number(v) and THRESHOLD_QUANTILE_RANGE[0] <= v < THRESHOLD_QUANTILE_RANGE[1],
)
SD_MULTIPLIER = Setting(
    "sd_multiplier",
    1.0,
    "threshold rule 2: mean + k·sd of the training scores (TensorFlow's autoencoder tutorial uses k = 1)",
    "a number in [0, 100]",
    lambda v: number(v) and 0 <= v <= 100,
)
SCORE = Setting(
    "score",
    "sse",
    "the autoencoder's score for thresholds and figures: sse (per-image sum of squared error) "
    "or bce (per-image mean binary cross-entropy)",
    "sse or bce",
    choices=("sse", "bce"),
)
MAX_ITER = Setting("max_iter", 1000, "iterations of the logistic regression's L-BFGS solver", COUNT, wholes(1))
TSNE_SIZE = Setting(
    "tsne_size",
    1000,
    "test samples in the t-SNE figure (about 100 a class; t-SNE's cost grows as n log n: 1,000 take a few "
    "seconds, 2,000 twice that)",
    COUNT,
    wholes(1),
)
TOL = Setting(
    "tol",
    1e-3,
    "stopping tolerance of the linear probe's L-BFGS (largest gradient entry): 1e-3 stops raw "
    "pixels after ~40 (MNIST) to ~130 (Fashion-MNIST) iterations, within ±0.01 of the published rows; "
    "scikit-learn's 1e-4 takes ~1,000 on Fashion-MNIST's pixels",
    "a number in (0, 1)",
    lambda v: number(v) and 0 < v < 1,
)

# --- what the figures of a run show (they do not change the trained model) -------------------------------------------
DEFAULT_N_WEIGHTS = 16
N_IMAGES = Setting("n_images", 10, "how many test images to show, originals over reconstructions", COUNT, wholes(1))
N_WEIGHTS = Setting(
    "n_weights",
    None,
    "how many first-layer encoder units to draw as 28×28 images (default: "
    f"{DEFAULT_N_WEIGHTS}, or every unit when the first layer has fewer)",
    COUNT,
    wholes(1),
    optional=True,
)
INDICES = Setting(
    "indices",
    None,
    "test images to show, by index, e.g. 0,7,42 (default: the first --n-images)",
    "test image indices ≥ 0",
    lambda v: isinstance(v, tuple) and bool(v) and min(v) >= 0,
    optional=True,
)
PER_CLASS = Setting(
    "per_class",
    False,
    "show one test image of each class (the first of each label) instead",
    "true or false",
    lambda v: isinstance(v, bool),
)
PROJECTION = Setting(
    "projection",
    "pca",
    "how codes of more than two dimensions are drawn in codes.png: pca (linear: "
    "distances mean what they mean in the code) or tsne (scikit-learn's t-SNE: neighbourhoods)",
    "pca or tsne",
    choices=("pca", "tsne"),
)
