"""`aelab probe RUN_FOLDER…`: the probes of tasks/probe/features.py on the codes of finished run folders.

A train folder gives one model's codes; a sweep folder one model per code size and seed (read
from its checkpoint), so accuracy can be read against code size beside the sweep's test BCE.
Each folder gets probe.json — a row for the codes, for PCA coordinates of the same size and for
the raw pixels — and, for a train folder, tsne.png (t-SNE of test codes coloured by class).
The folder's finished result is not touched: probe.json and tsne.png are added beside it, under its lock.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.manifold import TSNE

from aelab.config import ProbeConfig, SweepConfig
from aelab.data import Dataset, load_dataset
from aelab.data.arrays import shared_tensor
from aelab.data.registry import get_spec
from aelab.errors import CheckpointError
from aelab.fileio import atomic_write_json
from aelab.plots.embedding import embedding_figure
from aelab.plots.probe import probe_figure
from aelab.runs.checkpointing import CHECKPOINT, read_state
from aelab.runs.folder import is_finished, locked_folder, save_figure
from aelab.runs.log import Log, stderr_log
from aelab.runs.saved import read_json, read_run
from aelab.tasks.anomaly.scores import codes
from aelab.tasks.pca import PCA
from aelab.tasks.probe.features import probe_accuracy, subset
from aelab.tasks.sweep import build_model

PROBE_FILE, TSNE_FILE, PROBE_FIGURE = "probe.json", "tsne.png", "probe.png"


def folder_models(folder: Path) -> tuple[str, list[dict]]:
    """(data set, [{"model", "code_size", "seed", "test_bce", "module"}]) of a finished train or sweep folder."""
    if not is_finished(folder):
        raise CheckpointError(
            f"{folder}: not a finished run (no finished.json): expected a finished train or sweep folder"
        )
    if not (folder / "sweep.json").is_file():
        run = read_run(folder)
        return run.config.dataset, [
            {
                "model": run.config.model,
                "code_size": run.config.code_size,
                "seed": run.config.seed,
                "test_bce": run.final.get("test_bce"),
                "module": run.model,
            }
        ]
    config = SweepConfig.from_json(read_json(folder / "config.json")["config"])
    if not (folder / CHECKPOINT).is_file():
        raise CheckpointError(
            f"{folder}: a sweep without {CHECKPOINT}: expected the checkpoint the sweep keeps its weights in"
        )
    tensors, _ = read_state(folder)
    batched = build_model(config, get_spec(config.dataset).n_features)
    batched.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    sweep = read_json(folder / "sweep.json")
    test_bce = {(e["code_size"], r["seed"]): r["final"]["test_bce"] for e in sweep["sizes"] for r in e["runs"]}
    grid = [(k, config.seed + s) for k in config.code_sizes for s in range(config.seeds)]
    return config.dataset, [
        {
            "model": config.model,
            "code_size": k,
            "seed": seed,
            "test_bce": test_bce.get((k, seed)),
            "module": batched.extract(m).eval(),
        }
        for m, (k, seed) in enumerate(grid)
    ]


class Features:
    """One data set's training subset and test set, with the pixel and PCA rows computed once per call."""

    def __init__(self, data: Dataset, config: ProbeConfig):
        chosen = subset(len(data.train_images), config.train_size, config.seed)
        self.data, self.config = data, config
        self.train, self.train_labels = data.train_images[chosen], data.train_labels[chosen]
        self.test, self.test_labels = data.test_images, data.test_labels
        self._pixels: dict | None = None
        self._pca: PCA | None = None

    def pixels(self) -> dict:
        if self._pixels is None:
            self._pixels = probe_accuracy(self.train, self.train_labels, self.test, self.test_labels, self.config)
        return self._pixels

    def pca(self, k: int) -> dict:
        if self._pca is None:
            self._pca = PCA().fit(self.train)
        k = min(k, len(self._pca.components_))
        return probe_accuracy(
            self._pca.transform(self.train, k),
            self.train_labels,
            self._pca.transform(self.test, k),
            self.test_labels,
            self.config,
        )

    def codes(self, model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        return codes(model, shared_tensor(self.train)), codes(model, shared_tensor(self.test))


def probe_folder(folder: Path, features: dict[str, Features], config: ProbeConfig, data_dir, log: Log) -> dict:
    """Probe every model of `folder`; write probe.json (and tsne.png for a single model); return probe.json's dict."""
    dataset, models = folder_models(folder)
    if dataset not in features:
        features[dataset] = Features(load_dataset(dataset, data_dir, progress=False), config)
    f = features[dataset]
    rows, start = [], time.perf_counter()
    for entry in models:
        train_codes, test_codes = f.codes(entry["module"])
        k = entry["code_size"]
        rows.append(
            {
                "features": "codes",
                **{key: entry[key] for key in ("model", "code_size", "seed", "test_bce")},
                **probe_accuracy(train_codes, f.train_labels, test_codes, f.test_labels, config),
            }
        )
        rows.append({"features": "pca", "code_size": k, **f.pca(k)})
        log(
            f"{folder}: code size {k} seed {entry['seed']}: linear {rows[-2]['linear']:.3f} knn {rows[-2]['knn']:.3f} "
            f"(PCA {rows[-1]['linear']:.3f} / {rows[-1]['knn']:.3f})"
        )
    rows.append({"features": "pixels", "code_size": f.train.shape[1], **f.pixels()})
    result = {
        "dataset": dataset,
        "config": config.to_json(),
        "n_train": len(f.train),
        "n_test": len(f.test),
        "rows": rows,
        "seconds": time.perf_counter() - start,
    }
    with locked_folder(folder, log) as out:
        atomic_write_json(out / PROBE_FILE, result)
        if len(models) == 1:
            save_figure(tsne_figure(models[0], f, config), out / TSNE_FILE)
        else:
            save_figure(sweep_probe_figure(rows), out / PROBE_FIGURE)
    return result


def sweep_probe_figure(rows: list[dict]):
    """Accuracy against code size (mean over seeds) for codes and PCA, the pixels flat, beside the test BCE."""
    sizes = sorted({r["code_size"] for r in rows if r["features"] == "codes"})

    def mean(features: str, key: str) -> list[float]:
        return [
            float(np.mean([r[key] for r in rows if r["features"] == features and r["code_size"] == k])) for k in sizes
        ]

    pixels = next(r for r in rows if r["features"] == "pixels")
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
    return probe_figure(sizes, accuracy, {"linear": pixels["linear"], "knn": pixels["knn"]}, bce)


def tsne_figure(entry: dict, f: Features, config: ProbeConfig):
    """t-SNE (scikit-learn, PCA initialisation, seeded) of a seeded subset of the test codes, coloured by class."""
    chosen = subset(len(f.test), config.tsne_size, config.seed)
    test_codes = codes(entry["module"], shared_tensor(f.test[chosen]))
    perplexity = min(30.0, (len(chosen) - 1) / 3)
    points = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=config.seed).fit_transform(test_codes)
    return embedding_figure(
        points,
        f.test_labels[chosen],
        f.data.spec.class_names,
        f"t-SNE of {len(chosen)} test codes: {entry['model']}, code size {entry['code_size']}",
    )


def probe_runs(
    folders: list[str | os.PathLike],
    config: ProbeConfig,
    data_dir: str | os.PathLike | None = None,
    log: Log = stderr_log,
) -> list[dict]:
    """Probe each folder in turn (every folder is checked first, so a typo fails before any work)."""
    paths = [Path(folder) for folder in folders]
    for path in paths:
        if not is_finished(path):
            raise CheckpointError(
                f"{path}: not a finished run (no finished.json): expected a finished train or sweep folder"
            )
    features: dict[str, Features] = {}
    return [{"folder": str(path), **probe_folder(path, features, config, data_dir, log)} for path in paths]


def format_probes(results: list[dict]) -> str:
    """Every row of every folder as plain text: features, code size, test BCE, linear and kNN accuracy."""
    lines = [f"{'folder':<28} {'features':<8} {'code':>5} {'test BCE':>9} {'linear':>7} {'kNN':>7}"]
    for result in results:
        for row in result["rows"]:
            bce = f"{row['test_bce']:.4f}" if row.get("test_bce") is not None else "–"
            lines.append(
                f"{result['folder'][-28:]:<28} {row['features']:<8} {row['code_size']:>5} {bce:>9} "
                f"{row['linear']:>7.3f} {row['knn']:>7.3f}"
            )
    return "\n".join(lines)
