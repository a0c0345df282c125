"""`aelab explore RUN_FOLDER`: the run's trained model and its test images → `explorer.html` in the run folder.

A sweep's folder (`aelab sweep`, or a study's cells batched into one) holds a model per code size and seed:
`--code-size K --seed S` picks one, whose page is `explorer-code{K}-seed{S}.html` beside the others (one
`explorer.html` would be each model's page in turn, overwritten).

The folder's lock is held from reading the run to writing the page (so a run being replaced
meanwhile is never half read), the page is written atomically, and a page that would break the
size promise (under 5 MB, so it can be mailed) is refused before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aelab.api import ARRAYS
from aelab.config import TrainConfig
from aelab.data import load_dataset
from aelab.errors import ConfigError, OutputError
from aelab.explorer.content import TestImages, page_content
from aelab.explorer.export import export_model
from aelab.explorer.page import explorer_page
from aelab.fileio import atomic_write_text
from aelab.runs.folder import locked_folder
from aelab.runs.saved import SavedRun, kept_samples, read_run
from aelab.tasks.run_data import load_run_data

EXPLORER_HTML = "explorer.html"
MAX_PAGE_BYTES = 5 * 1024 * 1024  # the promise: a page small enough to mail


def own_test_samples(run: SavedRun, folder: Path, data_dir: str | os.PathLike | None) -> TestImages:
    """Your own data's test split, read and scaled as training read it (the config's data options and seed); for
    arrays fitted in Python, the test samples their folder keeps (runs/saved.py)."""
    kept = kept_samples(folder) if run.config.dataset == ARRAYS else None
    if run.config.dataset == ARRAYS and kept is None:
        raise ConfigError(
            f"{folder}: fitted on arrays from Python and saved without test samples: expected --dataset NAME "
            "for the samples the explorer shows, or the folder saved again with Autoencoder.save"
        )
    data = None if kept is not None else load_run_data(run.config, data_dir, quiet=True)
    images_of = kept if kept is not None else data.test_images
    n = len(images_of) if run.config.test_size is None else min(run.config.test_size, len(images_of))
    images = np.asarray(images_of[:n], dtype=np.float32).reshape(n, -1)
    labels = None if data is None or data.test_labels is None else data.test_labels[:n]
    return TestImages(
        images,
        labels,
        tuple((data.class_names if data is not None else None) or ()),
        tuple(run.data_record["sample_shape"]),
        run.data_record.get("scaling"),
        None if run.description is None else run.description.columns,
    )


def run_test_images(config: TrainConfig, data_dir: str | os.PathLike | None, dataset: str | None) -> TestImages:
    """The run's test images (the first `test_size` of its data set's test split), or those of `dataset`."""
    name = dataset or config.dataset
    if name == ARRAYS:
        raise ConfigError(
            "this run was fitted on arrays from Python: expected --dataset NAME (mnist, fashion-mnist) "
            "for the test images the explorer shows"
        )
    data = load_dataset(name, data_dir, progress=False)
    n = len(data.test_images)
    if config.test_size is not None and dataset is None:  # another data set's images: its whole test split
        n = min(config.test_size, n)
    images = np.asarray(data.test_images[:n], dtype=np.float32).reshape(n, -1)
    return TestImages(images, data.test_labels[:n], data.spec.class_names)


def widths(model: dict) -> str:
    """ "784 → 128 → 32 → 128 → 784", or "1×28×28 → 32×28×28 → …": each weighted or pooling layer's output, input
    first."""

    def size(layer: dict, end: str) -> str:
        return "×".join(map(str, layer[f"{end}_shape"])) if f"{end}_shape" in layer else str(layer[end])

    sized = [
        layer for part in ("encoder", "decoder") for layer in model[part] if layer["type"] not in ("relu", "sigmoid")
    ]
    return " → ".join([size(sized[0], "in"), *(size(layer, "out") for layer in sized)])


def page_name(run: SavedRun) -> str:
    """explorer.html for a run of one model; a sweep's model gets a page of its own, named by code size and seed."""
    return EXPLORER_HTML if run.member is None else "explorer-code{}-seed{}.html".format(*run.member)


def data_name(run: SavedRun) -> str:
    """What the run was trained on, as its page names it: a built-in data set by its name (mnist), your own data by
    its file's or folder's name (beats.npz, squares: the whole path is in config.json and in the run's summary),
    arrays fitted in Python as "arrays"."""
    if run.config.dataset == ARRAYS:
        return ARRAYS
    if run.data_record is None:
        return run.config.dataset
    return Path(run.data_record.get("identity", {}).get("path", run.config.dataset)).name


def page_title(run: SavedRun, dataset: str | None) -> str:
    """The page's <title>: the family and its data, and the data set whose test images it shows where that is
    another (`--dataset NAME`)."""
    shown = f" (test images of {dataset})" if dataset and dataset != data_name(run) else ""
    return f"aelab explorer: {run.config.model} on {data_name(run)}{shown}"


def page_data(run: SavedRun, test: TestImages, run_label: str, dataset: str | None = None) -> dict:
    """Everything the page needs, as JSON: the model's layers, what it is, and what to show."""
    config = run.config
    model = export_model(run.model, config.loss)
    meta = {
        "family": config.model,
        "dataset": data_name(run),
        "shown_dataset": dataset if dataset and dataset != data_name(run) else None,
        "code_size": run.model.code_size,
        "layers": widths(model),
        "run": run_label,
        "test_bce": run.final.get("test_bce"),
        "loss": config.loss,
        "noise": {"kind": config.noise, "factor": config.noise_factor} if config.noise else None,
    }
    return {"meta": meta, "model": model, **page_content(run.model, test, run.model.first_layer_weights())}


def explore(
    folder: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    dataset: str | None = None,
    code_size: int | None = None,
    seed: int | None = None,
) -> Path:
    """Write `folder`/explorer.html for the finished run in `folder` (or the page of a sweep's model `code_size`,
    `seed`: `page_name`); return its path."""
    folder = Path(folder)
    read_run(folder, code_size, seed)  # refuses what is not a finished run's folder before the lock creates anything
    with locked_folder(folder) as locked:
        run = read_run(locked, code_size, seed)
        own = run.data_record is not None and dataset is None  # your own data: its test split, as trained
        test = own_test_samples(run, locked, data_dir) if own else run_test_images(run.config, data_dir, dataset)
        label = str(folder) if run.member is None else "{} (code size {}, seed {})".format(folder, *run.member)
        page = explorer_page(page_data(run, test, label, dataset), page_title(run, dataset))
        size = len(page.encode("utf-8"))
        if size > MAX_PAGE_BYTES:
            raise OutputError(
                f"{locked / page_name(run)}: would be {size:,} bytes: expected at most {MAX_PAGE_BYTES:,} "
                "bytes, a page small enough to mail (a smaller model fits)"
            )
        return atomic_write_text(locked / page_name(run), page)
