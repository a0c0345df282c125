"""`aelab anomaly`: the one-class protocol over every class of a data set, as one run folder.

For each normal class (tasks/anomaly/one_class.py): the class's training images only → the
autoencoder (one per seed) and the baselines → every test image scored → AUROC and AUPRC per
method, thresholds from the training scores → precision, recall, F1. Writes config.json,
anomaly.json (every number), the figures (histograms.png, roc.png, extremes.png), summary.md
(the table over classes, mean ± sd over seeds, beside the published references), then finished.json.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aelab.config import AnomalyConfig
from aelab.devices import device_record
from aelab.fileio import atomic_write_json, atomic_write_text
from aelab.plots.anomaly import extremes_figure, histograms_figure, roc_figure
from aelab.runs.folder import check_start, environment, mark_finished, run_dir, save_figure
from aelab.runs.log import Log, stderr_log
from aelab.tasks.anomaly.data import AnomalyData, class_rows, load_anomaly_data
from aelab.tasks.anomaly.metrics import roc_points
from aelab.tasks.anomaly.one_class import METHODS, baseline_scores, evaluate, train_and_score
from aelab.tasks.anomaly.summary import format_table, summary_markdown
from aelab.tasks.anomaly.unlabelled import format_unlabelled, run_unlabelled

FILES = ["config.json", "anomaly.json", "histograms.png", "roc.png", "extremes.png", "summary.md"]
FIGURE_METHODS = ("ae_sse", "pca", "knn_pixels", "knn_codes")  # the ROC panels' curves (BCE's is close to SSE's)


def class_label(index: int, name: str) -> str:
    """`3 (dress)` where the class has a name of its own; `3`, not `3 (3)`, where its name is its number."""
    return str(index) if name == str(index) else f"{index} ({name})"


def run_anomaly(
    config: AnomalyConfig,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    log: Log = stderr_log,
    force: bool = False,
) -> dict:
    """Run the one-class protocol for `config`'s classes and write the run folder `out`; return anomaly.json's dict.

    `config.dataset` is a built-in data set or a PATH to your own data: labelled data runs the protocol over
    its classes, unlabelled data is scored as one normal set (anomaly_unlabelled.py). Everything is checked
    (anomaly_data.py) before the folder is made. A finished run in `out` is replaced only with `force`. There
    is no resume: each class trains in seconds to a minute, and an interrupted run leaves no finished.json.
    """
    out, _ = check_start(out, config.dataset, False, force, "anomaly.json", log, what="anomaly run")
    run = load_anomaly_data(config, data_dir, quiet)
    config = run.config
    with run_dir(out, force=force, log=log) as out:
        atomic_write_json(out / "config.json", run_config(run))
        if not run.labelled:
            return run_unlabelled(run, out, quiet, log)
        entries, figures = [], []
        names = run.class_names
        for normal in run.classes:
            entry, first = run_class(run, normal, quiet)
            entries.append(entry)
            figures.append((normal, first))
            mean = entry["mean"]
            log(
                f"class {class_label(normal, names[normal])}: AUROC "
                + "  ".join(f"{title} {mean[m]['auroc']:.3f}" for m, title in run.methods.items())
                + f"  ({entry['n_train']} training samples)"
            )
        result = result_record(run, config, entries)
        write_outputs(out, result, figures, run, config)
        return result


def result_record(run: AnomalyData, config: AnomalyConfig, entries: list[dict]) -> dict:
    """anomaly.json: the settings that decide the numbers, each class's entry, and the overall means."""
    return {
        "dataset": config.dataset,
        "model": config.model,
        "code_size": config.code_size,
        "epochs": config.epochs,
        "seeds": [config.seed + s for s in range(config.seeds)],
        "n_test": len(run.test_x),
        "methods": run.methods,
        "score": f"ae_{config.score}",
        "classes": entries,
        "overall": overall(entries, run.methods),
        "seconds_training": sum(e["seconds_training"] for e in entries),
        "class_names": list(run.class_names),
        "sample_shape": list(run.data.sample_shape),
        "kind": run.data.description.kind,
    }


def run_config(run: AnomalyData) -> dict:
    """config.json: the config (scaling and loss resolved), where the data came from, and your own data's record."""
    saved = {
        "config": run.config.to_json(),
        "data_source": run.data.source,
        "environment": environment(),
        "device": device_record(run.config.device),
    }
    saved.update(run.data.config_entries())  # the description; your own data's identity, split, scaling, loss
    return saved


def run_class(run: AnomalyData, normal: int, quiet: bool) -> tuple[dict, tuple]:
    """One normal class over every seed: its entry of anomaly.json, and the first seed's scores for the figures."""
    config = run.config
    train_x = class_rows(run, normal)
    is_anomaly = run.test_labels != normal
    baselines = baseline_scores(config, train_x, run.test_x)
    runs, first = [], None
    for s in range(config.seeds):
        scores = train_and_score(config, train_x, run.test_x, config.seed + s, baselines, quiet, run.data.sample_shape)
        runs.append({"seed": config.seed + s, **evaluate(config, scores, is_anomaly)})
        if first is None:
            first = (scores, runs[0])
    table = {m: np.array([[r["ranking"][m]["auroc"], r["ranking"][m]["auprc"]] for r in runs]) for m in run.methods}
    spread = (lambda v: float(v.std(ddof=1))) if len(runs) > 1 else (lambda v: None)
    entry = {
        "class": normal,
        "name": run.class_names[normal],
        "n_train": len(train_x),
        "n_normal_test": int((~is_anomaly).sum()),
        "runs": runs,
        "mean": {m: {"auroc": float(t[:, 0].mean()), "auprc": float(t[:, 1].mean())} for m, t in table.items()},
        "std": {m: {"auroc": spread(t[:, 0]), "auprc": spread(t[:, 1])} for m, t in table.items()},
        "seconds_training": sum(r["seconds_training"] for r in runs),
    }
    return entry, first


def overall(entries: list[dict], methods: dict[str, str]) -> dict:
    """Per method, the mean over classes of the per-class means (the summary number papers report)."""
    return {
        m: {key: float(np.mean([e["mean"][m][key] for e in entries])) for key in ("auroc", "auprc")} for m in methods
    }


def write_outputs(out: Path, result: dict, figures: list, data: AnomalyData, config: AnomalyConfig) -> None:
    """anomaly.json, the three figures (from each class's first seed), summary.md, then the finished marker."""
    atomic_write_json(out / "anomaly.json", result)
    key, names, test_x = result["score"], data.class_names, data.test_x
    hist, roc, extremes = [], [], []
    for normal, (scores, run) in figures:
        normal_mask = data.test_labels == normal
        title = f"normal: {normal} {names[normal]}" if names[normal] != str(normal) else f"normal: {normal}"
        hist.append((title, scores.test[key][normal_mask], scores.test[key][~normal_mask], run["thresholds"]))
        roc.append(
            (
                title,
                {
                    data.methods[m]: (*roc_points(scores.test[m], ~normal_mask), run["ranking"][m]["auroc"])
                    for m in FIGURE_METHODS
                },
            )
        )
        images = test_x.numpy()
        label = f"{normal} {names[normal]}" if names[normal] != str(normal) else str(normal)
        extremes.append((label, images[run["most_anomalous"]], images[run["least_anomalous"]]))
    save_figure(histograms_figure(hist, METHODS[key]), out / "histograms.png")
    save_figure(roc_figure(roc), out / "roc.png")
    described = data.data.description
    columns = described.column_names if described.kind == "table" else None
    save_figure(
        extremes_figure(extremes, data.data.sample_shape, columns, described.scale_words()), out / "extremes.png"
    )
    atomic_write_text(out / "summary.md", summary_markdown(result, config))
    mark_finished(out, FILES)


def format_result(result: dict) -> str:
    """The console's view of anomaly.json: the AUROC table, or an unlabelled run's thresholds and top anomalies."""
    return format_unlabelled(result) if result.get("labelled") is False else format_table(result)


__all__ = ["run_anomaly", "format_table", "format_result"]
