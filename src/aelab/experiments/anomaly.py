"""`aelab anomaly`: the one-class protocol over every class of a data set, as one run folder.

For each normal class (experiments/one_class.py): the class's training images only → the
autoencoder (one per seed) and the baselines → every test image scored → AUROC and AUPRC per
method, thresholds from the training scores → precision, recall, F1. Writes config.json,
anomaly.json (every number), the figures (histograms.png, roc.png, extremes.png), summary.md
(the table over classes, mean ± sd over seeds, beside the published references), then finished.json.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from aelab.config import AnomalyConfig
from aelab.devices import device_record
from aelab.data import Dataset, load_dataset
from aelab.data.arrays import shared_tensor
from aelab.errors import ConfigError
from aelab.experiments.anomaly_metrics import roc_points
from aelab.experiments.anomaly_summary import format_table, summary_markdown
from aelab.experiments.one_class import METHODS, baseline_scores, evaluate, train_and_score
from aelab.experiments.runs import check_start, environment, mark_finished, run_dir, save_figure
from aelab.experiments.train_one import Log, seeded_generators, stderr_log
from aelab.fileio import atomic_write_json, atomic_write_text
from aelab.plots.anomaly import extremes_figure, histograms_figure, roc_figure

FILES = ["config.json", "anomaly.json", "histograms.png", "roc.png", "extremes.png", "summary.md"]
FIGURE_METHODS = ("ae_sse", "pca", "knn_pixels", "knn_codes")  # the ROC panels' curves (BCE's is close to SSE's)


def normal_classes(config: AnomalyConfig, data: Dataset) -> list[int]:
    """The classes to run: the config's, each checked against the data set's labels, or every label present."""
    present = sorted(int(c) for c in np.unique(data.train_labels))
    if config.classes is None:
        return present
    unknown = [c for c in config.classes if c not in present]
    if unknown:
        raise ConfigError(f"--classes {','.join(map(str, config.classes))}: {unknown} not among {config.dataset}'s "
                          f"labels: expected some of {','.join(map(str, present))}")
    return list(config.classes)


def class_images(data: Dataset, config: AnomalyConfig, normal: int) -> torch.Tensor:
    """The normal class's training images (a seeded subset with train_size), as one tensor."""
    images = data.train_images[data.train_labels == normal]
    if config.train_size is not None:
        if config.train_size > len(images):
            raise ConfigError(f"--train-size {config.train_size}: expected at most {len(images)} (class {normal}'s "
                              "training images)")
        chosen = torch.randperm(len(images), generator=seeded_generators(config.seed)["subset"])[:config.train_size]
        images = images[np.sort(chosen.numpy())]
    return shared_tensor(np.ascontiguousarray(images))


def test_split(data: Dataset, config: AnomalyConfig) -> tuple[torch.Tensor, np.ndarray]:
    n = len(data.test_images) if config.test_size is None else config.test_size
    if n > len(data.test_images):
        raise ConfigError(f"--test-size {n}: expected at most {len(data.test_images)} (the test set's size)")
    return shared_tensor(data.test_images)[:n], np.asarray(data.test_labels[:n])


def run_anomaly(config: AnomalyConfig, out: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                quiet: bool = False, log: Log = stderr_log, force: bool = False) -> dict:
    """Run the one-class protocol for `config`'s classes and write the run folder `out`; return anomaly.json's dict.

    A finished run in `out` is replaced only with `force`. There is no resume: each class trains in
    seconds to a minute, and an interrupted run leaves no finished.json (it is run again).
    """
    out, _ = check_start(out, config.dataset, False, force, "anomaly.json", log, what="anomaly run")
    data = load_dataset(config.dataset, data_dir, progress=not quiet)
    classes = normal_classes(config, data)
    test_x, test_labels = test_split(data, config)
    names = data.spec.class_names
    with run_dir(out, force=force, log=log) as out:
        atomic_write_json(out / "config.json", {"config": config.to_json(), "data_source": data.source,
                                                "environment": environment(), "device": device_record(config.device)})
        entries, figures = [], []
        for normal in classes:
            entry, first = run_class(config, data, normal, test_x, test_labels, quiet)
            entries.append(entry)
            figures.append((normal, first))
            mean = entry["mean"]
            log(f"class {normal} ({names[normal]}): AUROC " + "  ".join(
                f"{METHODS[m]} {mean[m]['auroc']:.3f}" for m in METHODS) + f"  ({entry['n_train']} training images)")
        result = {"dataset": config.dataset, "model": config.model, "code_size": config.code_size,
                  "epochs": config.epochs, "seeds": [config.seed + s for s in range(config.seeds)],
                  "n_test": len(test_x), "methods": METHODS, "score": f"ae_{config.score}", "classes": entries,
                  "overall": overall(entries), "seconds_training": sum(e["seconds_training"] for e in entries),
                  "class_names": list(names)}
        write_outputs(out, result, figures, test_x, test_labels, names, config, data.spec.image_shape)
        return result


def run_class(config: AnomalyConfig, data: Dataset, normal: int, test_x: torch.Tensor, test_labels: np.ndarray,
              quiet: bool) -> tuple[dict, tuple]:
    """One normal class over every seed: its entry of anomaly.json, and the first seed's scores for the figures."""
    train_x = class_images(data, config, normal)
    is_anomaly = test_labels != normal
    baselines = baseline_scores(config, train_x, test_x)
    runs, first = [], None
    for s in range(config.seeds):
        scores = train_and_score(config, train_x, test_x, config.seed + s, baselines, quiet)
        runs.append({"seed": config.seed + s, **evaluate(config, scores, is_anomaly)})
        if first is None:
            first = (scores, runs[0])
    table = {m: np.array([[r["ranking"][m]["auroc"], r["ranking"][m]["auprc"]] for r in runs]) for m in METHODS}
    spread = (lambda v: float(v.std(ddof=1))) if len(runs) > 1 else (lambda v: None)
    entry = {"class": normal, "name": data.spec.class_names[normal], "n_train": len(train_x),
             "n_normal_test": int((~is_anomaly).sum()), "runs": runs,
             "mean": {m: {"auroc": float(t[:, 0].mean()), "auprc": float(t[:, 1].mean())} for m, t in table.items()},
             "std": {m: {"auroc": spread(t[:, 0]), "auprc": spread(t[:, 1])} for m, t in table.items()},
             "seconds_training": sum(r["seconds_training"] for r in runs)}
    return entry, first


def overall(entries: list[dict]) -> dict:
    """Per method, the mean over classes of the per-class means (the summary number papers report)."""
    return {m: {key: float(np.mean([e["mean"][m][key] for e in entries])) for key in ("auroc", "auprc")} for m in METHODS}


def write_outputs(out: Path, result: dict, figures: list, test_x: torch.Tensor, test_labels: np.ndarray,
                  names: tuple[str, ...], config: AnomalyConfig, shape: tuple[int, int]) -> None:
    """anomaly.json, the three figures (from each class's first seed), summary.md, then the finished marker."""
    atomic_write_json(out / "anomaly.json", result)
    key = result["score"]
    hist, roc, extremes = [], [], []
    for normal, (scores, run) in figures:
        normal_mask = test_labels == normal
        title = f"normal: {normal} {names[normal]}" if names[normal] != str(normal) else f"normal: {normal}"
        hist.append((title, scores.test[key][normal_mask], scores.test[key][~normal_mask], run["thresholds"]))
        roc.append((title, {METHODS[m]: (*roc_points(scores.test[m], ~normal_mask), run["ranking"][m]["auroc"])
                            for m in FIGURE_METHODS}))
        images = test_x.numpy()
        extremes.append((str(normal), images[run["most_anomalous"]], images[run["least_anomalous"]]))
    save_figure(histograms_figure(hist, METHODS[key]), out / "histograms.png")
    save_figure(roc_figure(roc), out / "roc.png")
    save_figure(extremes_figure(extremes, shape), out / "extremes.png")
    atomic_write_text(out / "summary.md", summary_markdown(result, config))
    mark_finished(out, FILES)


__all__ = ["run_anomaly", "format_table"]
