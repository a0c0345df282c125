"""`aelab anomaly --dataset PATH` on data without labels: train on the training split, score the test split.

Without labels nothing says which test samples are anomalies, so there is no AUROC or AUPRC to
compute: what a user gets is what a deployed detector has — every test sample's score, thresholds
from the training scores (all assumed normal), how many samples each threshold flags, and the most
anomalous samples to look at (a table with their scores, and a figure). One model, the config's seed.
"""

from __future__ import annotations

from pathlib import Path

from aelab.fileio import atomic_write_json, atomic_write_text
from aelab.plots.anomaly import extremes_figure, histograms_figure
from aelab.runs.folder import mark_finished, save_figure
from aelab.runs.log import Log
from aelab.runs.summary import epoch_count
from aelab.tasks.anomaly.data import AnomalyData, class_rows
from aelab.tasks.anomaly.one_class import METHODS, N_EXTREMES, score_unlabelled

FILES = ["config.json", "anomaly.json", "histograms.png", "extremes.png", "summary.md"]
NO_AUROC = (
    "No AUROC or AUPRC: the data has no labels, so nothing says which test samples are anomalies and a "
    "ranking cannot be scored. With labels (class subfolders, a label column, y_train/y_test), `aelab anomaly` "
    "runs the one-class protocol over the classes instead."
)


def run_unlabelled(run: AnomalyData, out: Path, quiet: bool, log: Log) -> dict:
    """Train one model on every training sample, score the test split, write anomaly.json, figures, summary.md."""
    config = run.config
    train_x = class_rows(run, None)
    found = score_unlabelled(config, train_x, run.test_x, config.seed, run.data.sample_shape, quiet)
    scores = found["scores"]
    key = found["score"]
    result = {
        "dataset": config.dataset,
        "labelled": False,
        "model": config.model,
        "code_size": config.code_size,
        "epochs": config.epochs,
        "seeds": [config.seed],
        "n_train": len(train_x),
        "n_test": len(run.test_x),
        "score": key,
        "thresholds": found["thresholds"],
        "flagged": found["flagged"],
        "top_anomalies": [{"index": int(i), "score": float(scores[i])} for i in found["most_anomalous"]],
        "least_anomalous": [{"index": int(i), "score": float(scores[i])} for i in found["least_anomalous"]],
        "scores": [float(v) for v in scores],
        "seconds_training": found["seconds_training"],
        "sample_shape": list(run.data.sample_shape),
    }
    atomic_write_json(out / "anomaly.json", result)
    save_figure(
        histograms_figure([("test split (unlabelled)", scores, None, found["thresholds"])], METHODS[key]),
        out / "histograms.png",
    )
    images = run.test_x.numpy()
    save_figure(
        extremes_figure(
            [("test", images[found["most_anomalous"]], images[found["least_anomalous"]])],
            run.data.sample_shape,
            run.data.description.column_names if run.data.description.kind == "table" else None,
            run.data.description.scale_words(),
        ),
        out / "extremes.png",
    )
    atomic_write_text(out / "summary.md", summary_markdown(result))
    mark_finished(out, FILES)
    log(
        f"{len(train_x)} training samples, {len(run.test_x)} scored; flagged: "
        + ", ".join(f"{rule} {n}" for rule, n in result["flagged"].items())
    )
    return result


def summary_markdown(result: dict) -> str:
    """summary.md of an unlabelled run: what was done, why there is no AUROC, thresholds, the top anomalies."""
    score = METHODS[result["score"]]
    lines = [
        f"# Anomaly scores: a {result['model']} autoencoder on {result['dataset']} (unlabelled)",
        "",
        f"An autoencoder (code size {result['code_size']}, {epoch_count(result['epochs'])}, "
        f"seed {result['seeds'][0]}) is "
        f"trained on all {result['n_train']} training samples, taken as normal; each of the {result['n_test']} test "
        f"samples is scored by its {score} (higher = more anomalous).",
        "",
        NO_AUROC,
        "",
        "## Thresholds",
        "",
        f"From the {score} of the training samples (the only data a deployed detector would have); test samples "
        "above a threshold are flagged. The training samples were fitted, so their errors run lower than unseen "
        "normal samples': expect more flagged than the rule suggests.",
        "",
        "| rule | threshold | flagged test samples |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {rule} | {cut:.6g} | {result['flagged'][rule]} of {result['n_test']} |"
        for rule, cut in result["thresholds"].items()
    ]
    lines += [
        "",
        f"## The {len(result['top_anomalies'])} most anomalous test samples",
        "",
        "Index: the sample's position in the test split (the data's own test split, or the seeded split "
        "recorded in config.json).",
        "",
        "| rank | index | score |",
        "|---:|---:|---:|",
    ]
    lines += [
        f"| {rank} | {row['index']} | {row['score']:.6g} |" for rank, row in enumerate(result["top_anomalies"], 1)
    ]
    lines += [
        "",
        f"Figures: histograms.png (the test scores, thresholds dashed), extremes.png (the {N_EXTREMES} most "
        "anomalous test samples, top line, and the least anomalous, bottom line).",
        "",
    ]
    return "\n".join(lines)


def format_unlabelled(result: dict) -> str:
    """The console's lines: thresholds with what they flag, and the top anomalies."""
    lines = [
        f"{rule}: threshold {cut:.6g}, flags {result['flagged'][rule]} of {result['n_test']} test samples"
        for rule, cut in result["thresholds"].items()
    ]
    lines.append(
        "most anomalous (test index: score): "
        + ", ".join(f"{row['index']}: {row['score']:.4g}" for row in result["top_anomalies"])
    )
    lines.append("no AUROC: the data has no labels")
    return "\n".join(lines)
