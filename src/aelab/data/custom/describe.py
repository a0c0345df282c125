"""`aelab data inspect PATH`: what aelab sees in your own data before any training — count, shape, dtype,
value range, classes, split, scaling, loss and the identity digest — as plain lines.

A built-in name (mnist, fashion-mnist) is described in the same lines, as training will read it (located,
verified against the registry's SHA-256, divided by 255), so one command answers "what is in this data" for any
`--dataset` value; the options of your own data do not apply to it and are refused, as `train` refuses them.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from aelab.data.custom.open import as_dataset, read_samples
from aelab.data.custom.paths import check_options_apply, is_path
from aelab.data.custom.scaling import value_range
from aelab.data.load import Dataset, load_dataset

CLASSES_SHOWN = 20


def inspect_lines(path: str, data_dir: str | os.PathLike | None = None, **options) -> list[str]:
    """The lines `aelab data inspect` prints; bad data raises the same one-line errors training would.

    `data_dir` is searched first for a built-in data set (as `--data-dir` is by `train`)."""
    if not is_path(path):
        return builtin_lines(path, data_dir, options)
    samples = read_samples(Path(path), options.get("image_size"), options.get("label_column"))
    data = as_dataset(  # the samples read once: open_dataset would read them again and hold both
        samples,
        Path(path),
        None,
        options.get("test_fraction"),
        options.get("scale"),
        options.get("loss"),
        options.get("seed", 0),
    )
    record = data.record
    raw = [samples.train.x] + ([samples.test.x] if samples.test is not None else [])
    lo, hi = min(value_range(x)[0] for x in raw), max(value_range(x)[1] for x in raw)
    identity = record["identity"]
    lines = [
        f"path: {identity['path']} ({identity['kind']}, {identity['files']} "
        f"file{'s' if identity['files'] != 1 else ''})",
        f"samples: {identity['shape'][0]}, each of shape {tuple(data.sample_shape)}, dtype {identity['dtype']}, "
        f"values in [{shown(lo)}, {shown(hi)}]",
        f"split: {record['split']['n_train']} train, {record['split']['n_test']} test ("
        + (
            "given by the data"
            if record["split"]["method"] == "given"
            else f"test fraction {record['split']['test_fraction']} drawn with seed {record['split']['seed']}"
        )
        + ")",
        class_line(data),
    ]
    scaled = np.asarray(data.train_images)
    divisor = record["scaling"]["divisor"]
    lines += [
        f"scaling: {record['scaling']['method']}"
        + (f" after dividing by {divisor:g}" if divisor != 1 else "")
        + f" (fitted on the training split) → training values in [{shown(scaled.min())}, {shown(scaled.max())}]",
        f"loss: {record['loss']}"
        + (" (sigmoid output)" if record["loss"] == "bce" else " (linear output; trains with autograd)"),
        f"sha256: {identity['sha256']}",
    ]
    return lines


def shown(value) -> str:
    """`value` in six significant digits where they say it exactly, else in the fewest digits that do: a float32
    1.00000006 is not "1" — it is why values "in [0, 1]" are refused by the BCE loss."""
    short = f"{float(value):g}"
    if float(np.float32(short) if isinstance(value, np.float32) else short) == float(value):
        return short
    return np.format_float_positional(value, trim="-") if isinstance(value, np.floating) else repr(float(value))


def class_line(data: Dataset) -> str:
    """The classes and their training samples, or that the data is unlabelled."""
    if data.class_names is None:
        return "classes: none (unlabelled)"
    counts = np.bincount(data.train_labels, minlength=len(data.class_names))
    shown = ", ".join(f"{name} ({count})" for name, count in zip(data.class_names, counts[:CLASSES_SHOWN]))
    more = f", … {len(data.class_names) - CLASSES_SHOWN} more" if len(data.class_names) > CLASSES_SHOWN else ""
    return f"classes: {len(data.class_names)}: {shown}{more} (training samples per class)"


def builtin_lines(name: str, data_dir, options: dict) -> list[str]:
    """The same lines for a built-in data set: where it was found, its sizes, shape, classes and value range."""
    check_options_apply(SimpleNamespace(dataset=name, **options))  # --scale etc. are refused, as `train` does
    data = load_dataset(name, data_dir, progress=False)  # unknown names: "did you mean …?"; missing data: exit 4
    spec = data.spec
    lo = min(float(data.train_images.min()), float(data.test_images.min()))
    hi = max(float(data.train_images.max()), float(data.test_images.max()))
    return [
        f"data set: {spec.name} ({spec.title}; built in, 4 IDX files), found in {data.source}",
        f"samples: {spec.n_train + spec.n_test}, each of shape {tuple(data.sample_shape)}, dtype uint8, "
        f"values in [{round(lo * 255)}, {round(hi * 255)}]",
        f"split: {spec.n_train} train, {spec.n_test} test (given by the data)",
        class_line(data),
        f"scaling: none after dividing by 255 → values in [{lo:g}, {hi:g}]",
        "loss: bce (sigmoid output)",
        "sha256: each file verified against the registry's digest (aelab data verify lists them)",
    ]
