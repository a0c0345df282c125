"""What the explorer page shows besides the model: test images, their codes, the codes' principal directions.

Everything here is computed once, in Python, from the trained model and the run's test images, and
handed to the page as JSON: the page itself only runs the model. Arrays travel as base64 bytes
(uint8 images, float32 codes), small lists as JSON numbers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from sklearn.decomposition import PCA

from aelab.data.arrays import shared_tensor
from aelab.errors import ConfigError
from aelab.explorer.export import float32_base64

THUMBNAILS_PER_CLASS = 4  # enough to see each class's variety, few enough to fit one strip
THUMBNAILS_UNLABELLED = 40
MAX_CODES = 2000  # test codes in the 2-D scatter and behind the principal directions
MAX_DIRECTIONS = 4  # principal-direction sliders for a code wider than 2
SLIDER_SIGMAS = 3.0  # a principal-direction slider spans ±3 standard deviations of the codes along it
IMAGE_SHAPE = (28, 28)  # the drawing canvas; other shapes (RGB, 1-D) are not explorable yet


@dataclass(frozen=True)
class TestImages:
    """The run's test images as the page sees them.

    images: float32 (n, 784) in [0, 1]; labels: int (n,) or None for unlabelled data;
    class_names: one per label value (ignored without labels).
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]


def uint8_base64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.uint8).tobytes()).decode("ascii")


def thumbnail_indices(labels: np.ndarray | None, n: int) -> np.ndarray:
    """The first THUMBNAILS_PER_CLASS test images of each class, class by class (the first 40 without labels)."""
    if labels is None:
        return np.arange(min(THUMBNAILS_UNLABELLED, n))
    return np.concatenate([np.flatnonzero(labels == c)[:THUMBNAILS_PER_CLASS] for c in np.unique(labels)])


def as_bytes(images: np.ndarray) -> np.ndarray:
    """[0, 1] pixels back to the data sets' 0…255 levels (exact for images loaded as uint8 / 255)."""
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


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
    with np.errstate(invalid="ignore", divide="ignore"):  # codes all equal (a dead code): PCA divides 0 by 0 for its ratio
        pca = PCA(n_components=k, svd_solver="full").fit(codes)
    spread = SLIDER_SIGMAS * np.sqrt(pca.explained_variance_)
    total = codes.var(axis=0, ddof=1).sum() if len(codes) > 1 else 0.0  # PCA's own ratio is 0/0 for codes all equal
    return {"mean": pca.mean_.tolist(), "components": pca.components_.tolist(),
            "ranges": [float(r) if r > 0 else 1.0 for r in spread],
            "explained": (pca.explained_variance_ / total if total > 0 else np.zeros(k)).tolist()}


def palette(n: int) -> list[str]:
    """One colour per class (matplotlib's tab10, tab20 beyond ten classes), as #rrggbb."""
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [matplotlib.colors.to_hex(cmap(i % cmap.N)) for i in range(max(n, 1))]


def weights_colormap() -> str:
    """weights.png's colour map (RdBu_r, white at 0) as 256 RGB triples, so the page draws the same colours."""
    return uint8_base64(np.rint(matplotlib.colormaps["RdBu_r"](np.linspace(0.0, 1.0, 256))[:, :3] * 255))


def page_content(model: torch.nn.Module, test: TestImages, first_layer: torch.Tensor) -> dict:
    """Thumbnails, the codes (points for a 2-D code), principal directions, unit ranges, colours: JSON for the page."""
    if test.images.ndim != 2 or test.images.shape[1] != IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        raise ConfigError(f"test images of shape {test.images.shape[1:]}: the explorer draws 28×28 grey images "
                          "(expected rows of 784 pixels)")
    n = min(MAX_CODES, len(test.images))
    labels = None if test.labels is None else np.asarray(test.labels[:n], dtype=np.int64)
    codes = test_codes(model, test.images[:n])
    shown = thumbnail_indices(labels, n)
    classes = list(test.class_names) if labels is not None else ["test image"]
    code_size = codes.shape[1]
    return {
        "image_shape": list(IMAGE_SHAPE),
        "classes": classes,
        "palette": palette(len(classes)),
        "thumbnails": {"pixels": uint8_base64(as_bytes(test.images[shown])), "indices": shown.tolist(),
                       "labels": [0] * len(shown) if labels is None else labels[shown].tolist()},
        "points": ({"codes": float32_base64(codes), "labels": [0] * n if labels is None else labels.tolist()}
                   if code_size == 2 else None),
        "directions": principal_directions(codes),
        "unit_max": [float(m) if m > 0 else 1.0 for m in codes.max(axis=0)],
        "weights": {"colormap": weights_colormap(), "limit": float(first_layer.abs().max()) or 1.0},
    }
