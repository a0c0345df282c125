"""What the explorer page shows besides the model: test images, their codes, the codes' principal directions.

Everything here is computed once, in Python, from the trained model and the run's test images, and
handed to the page as JSON: the page itself only runs the model. Arrays travel as base64 float32
bytes (the test samples exactly as the model takes them, scaled or not; the codes; the weights) and
the colour map as uint8, small lists as JSON numbers.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from sklearn.decomposition import PCA

from aelab.data.arrays import shared_tensor
from aelab.data.description import kind_of, unscaled
from aelab.errors import ConfigError
from aelab.explorer.export import float32_base64

THUMBNAILS_PER_CLASS = 4  # enough to see each class's variety, few enough to fit one strip
THUMBNAILS_UNLABELLED = 40
MAX_CODES = 2000  # test codes in the 2-D scatter and behind the principal directions
MAX_DIRECTIONS = 4  # principal-direction sliders for a code wider than 2
MAX_UNIT_SLIDERS = 32  # one slider per unit up to this; a wider (convolutional) code gets the units that vary most
SLIDER_SIGMAS = 3.0  # a principal-direction slider spans ±3 standard deviations of the codes along it
SIGNAL_VIEW = (120, 240)  # (height, width) of the canvases that plot a 1-D sample


@dataclass(frozen=True)
class TestImages:
    """The run's test samples as the model sees them.

    images: float32 (n, features), the model's inputs (in [0, 1], or your own data scaled for MSE);
    labels: int (n,) or None for unlabelled data; class_names: one per label value (ignored without labels);
    sample_shape: (C, H, W) for images, (L,) for 1-D samples; scaling: your own data's scaling record
    (data/custom/scaling.py: method, offset, factor), so the page shows values in their own units — except a
    table's, shown in the units the model works in (standardised, typically), where one column in large raw units
    would flatten the rest.
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    sample_shape: tuple[int, ...] = (1, 28, 28)
    scaling: dict | None = None
    columns: tuple[str, ...] | None = None  # a table's columns by name: its rows are drawn as bars, named on hover

    @property
    def kind(self) -> str:
        """image, signal or table (data/description.py's kinds)."""
        return kind_of(tuple(self.sample_shape), self.columns)


def uint8_base64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.uint8).tobytes()).decode("ascii")


def thumbnail_indices(labels: np.ndarray | None, n: int) -> np.ndarray:
    """The first THUMBNAILS_PER_CLASS test images of each class, class by class (the first 40 without labels)."""
    if labels is None:
        return np.arange(min(THUMBNAILS_UNLABELLED, n))
    return np.concatenate([np.flatnonzero(labels == c)[:THUMBNAILS_PER_CLASS] for c in np.unique(labels)])


@torch.no_grad()
def test_codes(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """float32 (n, code_size): the model's codes of `images`."""
    return model.encode(shared_tensor(np.ascontiguousarray(images, dtype=np.float32))).numpy()


def principal_directions(codes: np.ndarray) -> dict:
    """The codes' mean and top principal directions (scikit-learn's PCA), with each slider's half-range.

    A direction with no spread (every code equal along it) gets a half-range of 1, so its slider still moves.
    """
    k = min(MAX_DIRECTIONS, codes.shape[1], len(codes))
    codes = codes.astype(np.float64)
    with np.errstate(
        invalid="ignore", divide="ignore"
    ):  # codes all equal (a dead code): PCA divides 0 by 0 for its ratio
        pca = PCA(n_components=k, svd_solver="full").fit(codes)
    spread = SLIDER_SIGMAS * np.sqrt(pca.explained_variance_)
    total = codes.var(axis=0, ddof=1).sum() if len(codes) > 1 else 0.0  # PCA's own ratio is 0/0 for codes all equal
    return {
        "mean": pca.mean_.tolist(),
        "components": pca.components_.tolist(),
        "ranges": [float(r) if r > 0 else 1.0 for r in spread],
        "explained": (pca.explained_variance_ / total if total > 0 else np.zeros(k)).tolist(),
    }


def slider_units(codes: np.ndarray) -> list[int]:
    """The code units that get a slider, in unit order: every unit of a code up to MAX_UNIT_SLIDERS wide, else the
    MAX_UNIT_SLIDERS whose values vary most over the test codes (largest variance, ties to the lower unit).

    A convolutional code has thousands of units (2,048 for 32×32 colour images): a slider for each is a wall nobody
    can use, and the first ones by number are only one corner of the first feature map, often dead there.
    """
    if codes.shape[1] <= MAX_UNIT_SLIDERS:
        return list(range(codes.shape[1]))
    spread = codes.astype(np.float64).var(axis=0)
    return sorted(np.argsort(-spread, kind="stable")[:MAX_UNIT_SLIDERS].tolist())


def palette(n: int) -> list[str]:
    """One colour per class (matplotlib's tab10, tab20 beyond ten classes), as #rrggbb."""
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [matplotlib.colors.to_hex(cmap(i % cmap.N)) for i in range(max(n, 1))]


def weights_colormap() -> str:
    """weights.png's colour map (RdBu_r, white at 0) as 256 RGB triples, so the page draws the same colours."""
    return uint8_base64(np.rint(matplotlib.colormaps["RdBu_r"](np.linspace(0.0, 1.0, 256))[:, :3] * 255))


def view_size(sample_shape: tuple[int, ...]) -> tuple[int, int]:
    """(height, width) of the page's sample canvases: the image's own pixels, or a plot for a 1-D sample."""
    return SIGNAL_VIEW if len(sample_shape) == 1 else tuple(sample_shape[1:])


def shown_scaling(scaling: dict | None) -> dict | None:
    """The per-feature (offset, factor) the page undoes to show values in their own units; None when unscaled."""
    if scaling is None or scaling.get("offset") is None:
        return None
    return {"method": scaling["method"], "offset": scaling["offset"], "factor": scaling["factor"]}


def signal_range(images: np.ndarray, scaling: dict | None) -> list[float]:
    """The samples' (min, max) in their own units: the shared y range of the page's line plots."""
    values = images.astype(np.float64) if scaling is None else unscaled(images, scaling)  # in their own units (S1)
    lo, hi = float(values.min()), float(values.max())
    return [lo, hi] if hi > lo else [lo - 1.0, lo + 1.0]


def weight_tiles(first_layer: torch.Tensor, sample_shape: tuple[int, ...]) -> dict:
    """The first layer's weights, one tile per unit: a dense unit's (n_features,) as the sample's shape, a kernel as
    it is. A dense first layer is the model's first layer, already in the page: its values are not embedded twice
    (`values` None: the page reads the encoder's first dense layer), which keeps a deep model of 32×32 colour images
    under the 5 MB page budget."""
    units = first_layer.shape[0]
    tile = list(first_layer.shape[1:]) if first_layer.ndim == 4 else list(sample_shape)
    return {
        "values": float32_base64(first_layer) if first_layer.ndim == 4 else None,
        "units": units,
        "tile": tile,
        "colormap": weights_colormap(),
        "limit": float(first_layer.abs().max()) or 1.0,
    }


def units_label(test: TestImages) -> str:
    """The units the page's values are in, for its header."""
    if test.scaling is None or test.scaling.get("offset") is None:
        return ""
    if test.kind == "table":
        return f"values in {test.scaling['method']}-scaled units (as the model sees them), each column named on hover"
    return f"{test.scaling['method']}-scaled data, shown in its own units"


def page_content(model: torch.nn.Module, test: TestImages, first_layer: torch.Tensor) -> dict:
    """Thumbnails, the codes (points for a 2-D code), principal directions, unit ranges, colours: JSON for the page."""
    if test.images.ndim != 2 or test.images.shape[1] != math.prod(test.sample_shape):
        raise ConfigError(
            f"test samples of shape {test.images.shape[1:]}: expected rows of "
            f"{math.prod(test.sample_shape)} values (samples of shape {tuple(test.sample_shape)})"
        )
    n = min(MAX_CODES, len(test.images))
    labels = None if test.labels is None else np.asarray(test.labels[:n], dtype=np.int64)
    codes = test_codes(model, test.images[:n])
    shown = thumbnail_indices(labels, n)
    classes = list(test.class_names) if labels is not None else ["test sample"]
    code_size = codes.shape[1]
    scaling = None if test.kind == "table" else shown_scaling(test.scaling)
    return {
        "kind": test.kind,
        "columns": None if test.columns is None else list(test.columns),
        "units_label": units_label(test),
        "sample_shape": list(test.sample_shape),
        "view_size": list(view_size(test.sample_shape))[::-1],  # (width, height), as a canvas takes them
        "scaling": scaling,
        "signal_range": signal_range(test.images[shown], scaling) if len(test.sample_shape) == 1 else None,
        "classes": classes,
        "palette": palette(len(classes)),
        "thumbnails": {
            "values": float32_base64(test.images[shown]),
            "indices": shown.tolist(),
            "labels": [0] * len(shown) if labels is None else labels[shown].tolist(),
        },
        "points": (
            {"codes": float32_base64(codes), "labels": [0] * n if labels is None else labels.tolist()}
            if code_size == 2
            else None
        ),
        "directions": principal_directions(codes),
        "unit_max": [float(m) if m > 0 else 1.0 for m in codes.max(axis=0)],
        "unit_min": [min(0.0, float(m)) for m in codes.min(axis=0)],  # 0 for non-negative (ReLU) codes
        "unit_sliders": slider_units(codes),
        "weights": weight_tiles(first_layer, test.sample_shape),
    }
