"""`aelab probe RUN_FOLDER…`: the probes of tasks/probe/features.py on the codes of finished run folders.

A train folder gives one model's codes; a sweep folder one model per code size and seed (read
from its checkpoint), so accuracy can be read against code size beside the sweep's test BCE.
Any data `aelab train` accepts works: the built-in sets, and your own labelled data reopened as
the run trained on it (tasks/probe/sources.py). Each folder gets probe.json — a row for the codes,
for PCA coordinates of the same size and for the raw features (pixels of images, inputs of signals
and tables) — a figure (a sweep's probe.png; a train folder's tsne.png, or probe_codes.png for a 2-unit
code drawn as it is) and a "## Probes" section in summary.md. The run's own results are not touched:
these are added beside them, under the folder's lock.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.manifold import TSNE

from aelab.config import ProbeConfig
from aelab.data import Dataset
from aelab.data.arrays import shared_tensor
from aelab.fileio import atomic_write_json
from aelab.plots.embedding import embedding_figure
from aelab.plots.probe import probe_figure
from aelab.runs.folder import locked_folder, save_figure
from aelab.runs.log import Log, stderr_log
from aelab.tasks.anomaly.scores import codes
from aelab.tasks.pca import PCA
from aelab.tasks.probe.features import PUBLISHED_RAW, PUBLISHED_SOURCE, probe_accuracy, subset
from aelab.tasks.probe.sources import Source, class_names, data_key, folder_models, open_all, raw_features, read_source
from aelab.tasks.probe.summary import format_probes, training_words, write_probe_section

__all__ = ["probe_runs", "format_probes"]

PROBE_FILE, TSNE_FILE, CODES_FIGURE, PROBE_FIGURE = "probe.json", "tsne.png", "probe_codes.png", "probe.png"


class Features:
    """One data set's training subset and test set, with the raw-feature and PCA rows computed once per call."""

    def __init__(self, data: Dataset, config: ProbeConfig):
        chosen = subset(len(data.train_images), config.train_size, config.seed)
        self.data, self.config, self.raw_name = data, config, raw_features(data)
        self.train = data.train_images[chosen].reshape(len(chosen), -1)
        self.train_labels = data.train_labels[chosen]
        self.test, self.test_labels = data.test_images.reshape(len(data.test_images), -1), data.test_labels
        self.raw_row: dict | None = None
        self.fitted_pca: PCA | None = None

    def raw(self) -> dict:
        """The probes on the samples as the model sees them (pixels of images, the inputs of signals and tables)."""
        if self.raw_row is None:
            self.raw_row = probe_accuracy(self.train, self.train_labels, self.test, self.test_labels, self.config)
        return self.raw_row

    def pca(self, k: int) -> dict:
        """The probes on the first k principal components (fewer when the training samples have fewer)."""
        if self.fitted_pca is None:
            self.fitted_pca = PCA().fit(self.train)
        k = min(k, len(self.fitted_pca.components_))  # at most min(samples, features) components exist
        train, test = self.fitted_pca.transform(self.train, k), self.fitted_pca.transform(self.test, k)
        return {"components": k, **probe_accuracy(train, self.train_labels, test, self.test_labels, self.config)}

    def codes(self, model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        return codes(model, shared_tensor(self.train)), codes(model, shared_tensor(self.test))


def model_rows(folder: Path, models: list[dict], f: Features, config: ProbeConfig, log: Log) -> list[dict]:
    """A codes row and a PCA row (PCA coordinates as many as the code's units) per model."""
    rows = []
    for entry in models:
        train_codes, test_codes = f.codes(entry["module"])
        k = train_codes.shape[1]  # the code's width: config.code_size for dense models, 32·H/4·W/4 for conv ones
        rows.append(
            {
                "features": "codes",
                **{key: entry[key] for key in ("model", "seed", "test_bce")},
                "code_size": k,
                **probe_accuracy(train_codes, f.train_labels, test_codes, f.test_labels, config),
            }
        )
        rows.append({"features": "pca", "code_size": k, **f.pca(k)})
        log(
            f"{folder}: code size {k} seed {entry['seed']}: linear {rows[-2]['linear']:.3f} knn {rows[-2]['knn']:.3f} "
            f"(PCA of {rows[-1]['components']} components {rows[-1]['linear']:.3f} / {rows[-1]['knn']:.3f})"
        )
    return rows


def probe_folder(source: Source, models: list[dict], f: Features, config: ProbeConfig, log: Log) -> dict:
    """Probe every model of the folder; write probe.json, its figure and summary.md's section; return probe.json."""
    folder, start, total = source.folder, time.perf_counter(), len(f.data.train_images)
    which = training_words(len(f.train), total) + ("" if len(f.train) == total else " (--train-size all: every one)")
    log(f"{folder}: probing {len(models)} model(s) on {which} and {len(f.test):,} test samples of {source.dataset}")
    rows = model_rows(folder, models, f, config, log)
    if f.raw_row is None:
        log(f"{folder}: probes on the raw {f.raw_name} ({f.train.shape[1]} features, the slowest row)")
    rows.append({"features": f.raw_name, "code_size": f.train.shape[1], **f.raw()})
    names = class_names(source, f.data)
    published = PUBLISHED_RAW.get(source.config.dataset) if f.data.record is None else None
    result = {
        "dataset": source.dataset,
        "config": config.to_json(),
        "n_train": len(f.train),
        "n_train_total": total,
        "n_test": len(f.test),
        "raw_features": f.raw_name,
        "class_names": list(names),
        "published_raw": None if published is None else {**published, "source": PUBLISHED_SOURCE},
        "rows": rows,
        "seconds": time.perf_counter() - start,
    }
    name, figure = probe_figure_of(models, rows, f, names, config)
    result["figure"] = name
    with locked_folder(folder, log) as out:
        atomic_write_json(out / PROBE_FILE, result)
        save_figure(figure, out / name)
        write_probe_section(out, result)
    return result


def probe_figure_of(models: list[dict], rows: list[dict], f: Features, names, config: ProbeConfig):
    """(file name, Figure): a sweep's accuracy against code size, else the test codes in 2-D (t-SNE or as they are)."""
    if len(models) > 1:
        return PROBE_FIGURE, sweep_probe_figure(rows)
    return embedding_of(models[0], f, names, config)


def sweep_probe_figure(rows: list[dict]):
    """Accuracy against code size (mean over seeds) for codes and PCA, the pixels flat, beside the test BCE."""
    sizes = sorted({r["code_size"] for r in rows if r["features"] == "codes"})

    def mean(features: str, key: str) -> list[float]:
        return [
            float(np.mean([r[key] for r in rows if r["features"] == features and r["code_size"] == k])) for k in sizes
        ]

    pixels = rows[-1]  # the raw features' row (pixels or inputs) closes the list
    accuracy = {
        f"{source}, {probe}": mean(features, probe)
        for features, source in (("codes", "codes"), ("pca", "PCA"))
        for probe in ("linear", "knn")
    }
    bce = [
        float(
            np.mean(
                [
                    r["test_bce"]
                    for r in rows
                    if r["features"] == "codes" and r["code_size"] == k and r["test_bce"] is not None
                ]
                or [np.nan]
            )
        )
        for k in sizes
    ]
    return probe_figure(sizes, accuracy, {"linear": pixels["linear"], "knn": pixels["knn"]}, bce, pixels["features"])


def embedding_of(entry: dict, f: Features, names, config: ProbeConfig):
    """(file name, Figure) of a seeded subset of the test codes coloured by class: a 2-unit code drawn as it is
    (probe_codes.png: t-SNE would only distort a plane already there), a wider one by t-SNE (scikit-learn, PCA
    initialisation, seeded; tsne.png)."""
    chosen = subset(len(f.test), config.tsne_size, config.seed)
    test_codes = codes(entry["module"], shared_tensor(f.test[chosen]))
    labels, what = f.test_labels[chosen], f"{entry['model']}, code size {test_codes.shape[1]}"
    if test_codes.shape[1] == 2:
        return CODES_FIGURE, embedding_figure(test_codes, labels, names, f"{len(chosen)} test codes: {what}")
    perplexity = min(30.0, (len(chosen) - 1) / 3)
    points = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=config.seed).fit_transform(test_codes)
    return TSNE_FILE, embedding_figure(points, labels, names, f"t-SNE of {len(chosen)} test codes: {what}")


def probe_runs(
    folders: list[str | os.PathLike],
    config: ProbeConfig,
    data_dir: str | os.PathLike | None = None,
    log: Log = stderr_log,
) -> list[dict]:
    """Probe each folder in turn. Every folder, its data and its weights are checked first, so a typo, a run on
    arrays, unlabelled or changed data fails before any fit and nothing is written."""
    sources = [read_source(Path(folder)) for folder in folders]
    datasets = open_all(sources, data_dir)
    models = [folder_models(source, datasets[data_key(source)]) for source in sources]
    features: dict[tuple, Features] = {}
    results = []
    for source, entries in zip(sources, models):
        key = data_key(source)
        if key not in features:
            features[key] = Features(datasets[key], config)
        results.append({"folder": str(source.folder), **probe_folder(source, entries, features[key], config, log)})
    return results
