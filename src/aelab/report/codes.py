"""The report's sections on what autoencoders are used for: one-class anomaly detection and code probes.

Read from the run folders only: an anomaly step's anomaly.json, summary.md and figures, and the
probe.json / tsne.png that `aelab probe` adds to train and sweep folders.
"""

from __future__ import annotations

from aelab.report.blocks import body_of, code, dataset_title, figure, number, table
from aelab.tasks.probe.summary import fitted_on, size_of

ANOMALY_FIGURES = {
    "roc.png": (
        "ROC curves per normal class: the autoencoder's SSE beside PCA and the kNN baselines (AUROC in the legend)."
    ),
    "histograms.png": "Scores of normal (blue) and anomalous (orange) test images per normal class; thresholds dashed.",
    "extremes.png": (
        "Per normal class, the most anomalous test images (top line) and the least anomalous (bottom line)."
    ),
}


def anomalies(study: dict) -> list[str]:
    """One subsection per finished anomaly step: its summary (tables, references, thresholds) and figures."""
    runs = [r for r in study["runs"] if r["kind"] == "anomaly" and r["dataset"] not in study["missing"]]
    if not runs:
        return []
    lines = ["## One-class anomaly detection", ""]
    for run in runs:
        lines += [f"### {code(run['name'])} on {dataset_title(run['dataset'])}", ""]
        if not run["finished"]:
            lines += [f"Not finished (folder {code(run['name'])}): run the study again to complete it.", ""]
            continue
        lines += body_of(run["summary"], shift=2)
        lines += [
            line
            for name in run["figures"]
            for line in figure(f"{run['name']}/{name}", name[:-4], ANOMALY_FIGURES[name])
        ]
    return lines


def probes(study: dict) -> list[str]:
    """Probe accuracy of every probed train or sweep folder, one table per data set, and the t-SNE figures."""
    probed = [r for r in study["runs"] if r["finished"] and r.get("probe")]
    if not probed:
        return []
    lines = [
        "## What the codes keep: linear and kNN probes",
        "",
        "Test accuracy of a logistic regression (standardised features, L-BFGS) and of 5-nearest neighbours fitted "
        "on the training images' codes, beside the same probes on PCA coordinates of the same size and on the raw "
        "pixels (written by `aelab probe`).",
        "",
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in probed):
        lines += dataset_probes(dataset, [r for r in probed if r["dataset"] == dataset])
    return lines


def dataset_probes(dataset: str, folders: list[dict]) -> list[str]:
    """One data set's table of every probed folder's rows, how many training samples the probes were fitted on,
    and each folder's figures."""
    rows = [
        [
            run["name"],
            row["features"],
            size_of(row),
            number(row.get("test_bce"), ".4f"),
            number(row["linear"], ".3f"),
            number(row["knn"], ".3f"),
        ]
        for run in folders
        for row in run["probe"]["rows"]
    ]
    fitted = {fitted_on(run["probe"]) for run in folders}
    lines = [
        f"### Probes on {dataset_title(dataset)}",
        "",
        *table(["folder", "features", "size", "test BCE", "linear", "kNN"], rows, "llrrrr"),
        f"Fitted on {' or '.join(sorted(fitted))}.",
        "",
    ]
    for run in folders:
        lines += probe_figures(run)
    return lines


def probe_figures(run: dict) -> list[str]:
    """A probed folder's figures: its codes (drawn as they are for 2 units, else by t-SNE) or a sweep's curves."""
    lines = []
    if run["probe"].get("figure") == "probe_codes.png":  # a 2-unit code, drawn as it is
        lines += figure(f"{run['name']}/probe_codes.png", "codes", f"Test codes of {run['name']}, coloured by class.")
    elif run.get("tsne"):
        lines += figure(f"{run['name']}/tsne.png", "t-SNE", f"t-SNE of test codes of {run['name']}, coloured by class.")
    if run.get("probe_figure"):
        lines += figure(
            f"{run['name']}/probe.png",
            "probes",
            f"Probe accuracy against code size ({run['name']}, mean over seeds; pixels flat), "
            "beside the models' test BCE.",
        )
    return lines
