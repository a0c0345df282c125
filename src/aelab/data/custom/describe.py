"""`aelab data inspect PATH`: what aelab sees in your own data before any training — count, shape, dtype,
value range, classes, split, scaling, loss and the identity digest — as plain lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aelab.data.custom.open import open_dataset, read_samples
from aelab.data.custom.scaling import value_range


def inspect_lines(path: str, **options) -> list[str]:
    """The lines `aelab data inspect` prints; bad data raises the same one-line errors training would."""
    samples = read_samples(Path(path), options.get("image_size"), options.get("label_column"))
    data = open_dataset(path, **options)
    record = data.record
    raw = [samples.train.x] + ([samples.test.x] if samples.test is not None else [])
    lo, hi = min(value_range(x)[0] for x in raw), max(value_range(x)[1] for x in raw)
    identity = record["identity"]
    lines = [
        f"path: {identity['path']} ({identity['kind']}, {identity['files']} "
        f"file{'s' if identity['files'] != 1 else ''})",
        f"samples: {identity['shape'][0]}, each of shape {tuple(data.sample_shape)}, dtype {identity['dtype']}, "
        f"values in [{lo:g}, {hi:g}]",
        f"split: {record['split']['n_train']} train, {record['split']['n_test']} test ("
        + (
            "given by the data"
            if record["split"]["method"] == "given"
            else f"test fraction {record['split']['test_fraction']} drawn with seed {record['split']['seed']}"
        )
        + ")",
    ]
    if data.class_names is None:
        lines.append("classes: none (unlabelled)")
    else:
        counts = np.bincount(data.train_labels, minlength=len(data.class_names))
        shown = ", ".join(f"{name} ({count})" for name, count in zip(data.class_names[:20], counts[:20]))
        more = f", … {len(data.class_names) - 20} more" if len(data.class_names) > 20 else ""
        lines.append(f"classes: {len(data.class_names)}: {shown}{more} (training samples per class)")
    scaled = np.asarray(data.train_images)
    lines += [
        f"scaling: {record['scaling']['method']}"
        + (" after dividing by 255" if record["scaling"]["divisor"] == 255 else "")
        + f" (fitted on the training split) → training values in [{float(scaled.min()):g}, {float(scaled.max()):g}]",
        f"loss: {record['loss']}"
        + (" (sigmoid output)" if record["loss"] == "bce" else " (linear output; trains with autograd)"),
        f"sha256: {identity['sha256']}",
    ]
    return lines
