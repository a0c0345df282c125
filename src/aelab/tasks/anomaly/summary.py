"""The one-class run's table and summary.md, beside the published references.

Published numbers are kept here with where they come from and how far they were checked, and the
protocol differences are stated next to them, so a reader compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass

from aelab.config import AnomalyConfig
from aelab.data.description import WORDS
from aelab.runs.summary import epoch_count


@dataclass(frozen=True)
class Published:
    """One method's published per-class AUROC (%) on a data set, mean and standard deviation over seeds, with its
    source and how it was checked."""

    method: str
    auroc_percent: tuple[float, ...]  # classes 0–9
    std_percent: tuple[float, ...]
    source: str
    checked: str


RUFF_2018 = "Ruff et al., Deep One-Class Classification, ICML 2018, Table 1 (mean ± sd over 10 seeds)"
READ_FROM_THE_PAPER = (
    "read from Table 1 of the paper (the proceedings PDF, PMLR 80:4393–4402), with its standard deviations"
)
PUBLISHED: dict[str, tuple[Published, ...]] = {  # tests/test_anomaly_references.py checks each against the table read
    "mnist": (
        Published(
            "DCAE (convolutional autoencoder, reconstruction error)",
            (97.6, 98.3, 85.4, 86.7, 86.5, 78.2, 94.6, 92.3, 86.5, 90.4),
            (0.7, 0.6, 2.4, 0.9, 2.0, 2.7, 0.5, 1.0, 1.6, 1.8),
            RUFF_2018,
            READ_FROM_THE_PAPER,
        ),
        Published(
            "Soft-boundary Deep SVDD",
            (97.8, 99.6, 89.5, 90.3, 93.8, 85.8, 98.0, 92.7, 92.9, 94.9),
            (0.7, 0.1, 1.2, 2.1, 1.5, 2.5, 0.4, 1.4, 1.4, 0.6),
            RUFF_2018,
            READ_FROM_THE_PAPER,
        ),
        Published(
            "One-Class Deep SVDD",
            (98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5),
            (0.7, 0.1, 0.8, 1.5, 0.8, 0.9, 0.5, 0.9, 1.6, 0.3),
            RUFF_2018,
            READ_FROM_THE_PAPER,
        ),
    ),
}
PROTOCOL_DIFFERENCES = (
    "The published models are convolutional (a LeNet-type encoder), trained for 150 epochs or more on images "
    "preprocessed by global contrast normalisation and min–max scaling per class, and averaged over 10 seeds; "
    "ours are dense autoencoders on the raw [0, 1] pixels, trained for the epochs above, scored "
    "by reconstruction error. "
    "The split is the same: the normal class's training images only, every test image scored, the "
    "other classes anomalous."
)


def cell(mean: float, std: float | None, fmt: str = ".3f") -> str:
    return f"{mean:{fmt}}" + (f" ± {std:{fmt}}" if std is not None else "")


def format_table(result: dict) -> str:
    """AUROC per class and method (mean ± sd over seeds) as plain text, for the console."""
    methods = result["methods"]
    values = 15 if len(result["seeds"]) > 1 else 5  # "0.978 ± 0.006" or "0.978"
    widths = {m: max(len(title), values) + 2 for m, title in methods.items()}
    lines = [f"{'class':<16}" + "".join(f"{title:>{widths[m]}}" for m, title in methods.items())]
    for entry in result["classes"]:
        label = f"{entry['class']} {entry['name']}" if entry["name"] != str(entry["class"]) else str(entry["class"])
        lines.append(
            f"{label[:16]:<16}"
            + "".join(f"{cell(entry['mean'][m]['auroc'], entry['std'][m]['auroc']):>{widths[m]}}" for m in methods)
        )
    lines.append(f"{'mean':<16}" + "".join(f"{result['overall'][m]['auroc']:>{widths[m]}.3f}" for m in methods))
    lines.append(
        f"AUROC (higher is better; 0.5 is chance), {len(result['seeds'])} seed(s), "
        f"{result['seconds_training']:.1f} s of training for {len(result['classes'])} class(es)"
    )
    return "\n".join(lines)


def metric_table(result: dict, key: str) -> list[str]:
    """A Markdown table of `key` (auroc or auprc) per class and method, mean ± sd over seeds."""
    methods = result["methods"]
    lines = ["| normal class | " + " | ".join(methods.values()) + " |", "|---" + "|---:" * len(methods) + "|"]
    for entry in result["classes"]:
        lines.append(
            f"| {entry['class']} {entry['name'] if entry['name'] != str(entry['class']) else ''} | "
            + " | ".join(cell(entry["mean"][m][key], entry["std"][m][key]) for m in methods)
            + " |"
        )
    lines.append("| **mean** | " + " | ".join(f"**{result['overall'][m][key]:.3f}**" for m in methods) + " |")
    return lines


def published_lines(result: dict) -> list[str]:
    """Our autoencoder's AUROC beside the published per-class numbers, or a line saying there are none."""
    references = PUBLISHED.get(result["dataset"], ())
    if not references:
        return [
            f"No one-class results on {result['dataset']} are published in Ruff et al. 2018 "
            "(MNIST and CIFAR-10 only); the table above has no published row to compare with.",
            "",
        ]
    ours = {e["class"]: e["mean"]["ae_sse"]["auroc"] * 100 for e in result["classes"]}
    classes = sorted(ours)
    lines = smoke_lines(result) + [
        "| method | " + " | ".join(map(str, classes)) + " | mean |",
        "|---" + "|---:" * (len(classes) + 1) + "|",
        f"| ours: {result['model']} autoencoder, SSE | "
        + " | ".join(f"{ours[c]:.1f}" for c in classes)
        + f" | {sum(ours.values()) / len(ours):.1f} |",
    ]
    for ref in references:
        values = [ref.auroc_percent[c] for c in classes]
        lines.append(
            f"| {ref.method} | "
            + " | ".join(f"{ref.auroc_percent[c]:.1f} ± {ref.std_percent[c]:.1f}" for c in classes)
            + f" | {sum(values) / len(values):.1f} |"
        )
    lines += [
        "",
        f"Published: {RUFF_2018}, {READ_FROM_THE_PAPER}.",
        "",
        PROTOCOL_DIFFERENCES,
        "",
    ]
    for ref in references:
        above = [c for c in classes if ours[c] >= ref.auroc_percent[c]]
        lines.append(
            f"Ours is at or above {ref.method} on {len(above)} of {len(classes)} classes"
            + (f" ({', '.join(map(str, above))})." if above else ".")
        )
    return lines + [""]


def smoke_lines(result: dict) -> list[str]:
    """A run on part of the data (--quick, --train-size, --test-size) says so before it is set beside the published
    numbers, which come from whole data sets and 150 epochs or more: such a run is a smoke test, not a measurement."""
    config = result.get("config") or {}
    parts = [
        f"{config[key]:,} {what}"
        for key, what in (("train_size", "training"), ("test_size", "test"))
        if config.get(key)
    ]
    if not parts:
        return []
    return [
        f"**This run used {' and '.join(parts)} samples and {epoch_count(result['epochs'])}: a smoke test, not a "
        "measurement — its AUROCs are not comparable with the published ones below.**",
        "",
    ]


def detection_lines(result: dict, config: AnomalyConfig) -> list[str]:
    """Precision, recall and F1 of each threshold rule per class (first seed), on the autoencoder's score."""
    rules = list(result["classes"][0]["runs"][0]["detection"])
    lines = [
        "| normal class | " + " | ".join(f"{rule}: precision / recall / F1" for rule in rules) + " |",
        "|---" + "|---:" * len(rules) + "|",
    ]
    for entry in result["classes"]:
        found = entry["runs"][0]["detection"]
        lines.append(
            f"| {entry['class']} | "
            + " | ".join(
                f"{found[r]['precision']:.3f} / {found[r]['recall']:.3f} / {found[r]['f1']:.3f}" for r in rules
            )
            + " |"
        )
    return lines


def summary_markdown(result: dict, config: AnomalyConfig) -> str:
    """summary.md: what was run, AUROC and AUPRC tables, the published references, thresholds."""
    methods = result["methods"]
    n_seeds = len(result["seeds"])
    score = methods[result["score"]]
    sample, space = (
        WORDS[result.get("kind", "image")][0],
        "pixel" if result.get("kind", "image") == "image" else "input",
    )
    lines = [
        f"# One-class anomaly detection: {result['model']} autoencoders on {result['dataset']}",
        "",
        f"For each normal class, an autoencoder (code size {result['code_size']}, {epoch_count(result['epochs'])}, "
        f"{n_seeds} seed(s)) is trained on that class's training {sample}s only; all {result['n_test']} test {sample}s "
        f"are scored and the other classes are the anomalies. Scores are higher for more anomalous {sample}s. "
        f"Baselines on the same data: PCA at code size {result['code_size']} (squared reconstruction error), the "
        f"mean distance to the {config.neighbours} nearest training {sample}s in {space} space, and the same in the "
        "autoencoder's code space. " + ("Mean ± sd over seeds." if n_seeds > 1 else "One seed: no spread measured."),
        "",
        "## AUROC",
        "",
        *metric_table(result, "auroc"),
        "",
        "## AUPRC (anomalies are the positive class; chance is their share of the test set)",
        "",
        *metric_table(result, "auprc"),
        "",
        "## Published references (AUROC %)",
        "",
        *published_lines(result),
        "## Thresholds",
        "",
        f"From the {score} of the normal training {sample}s (the only data a deployed detector would have): the "
        f"{config.quantile:g} quantile, and mean + {config.sd_multiplier:g} sd. Test {sample}s above the threshold are "
        "flagged; precision, recall and F1 treat anomalies as positive (first seed). The training scores are of "
        f"{sample}s the model was fitted on, so they run lower than unseen normal {sample}s': expect more normal "
        f"{sample}s "
        "flagged than the quantile suggests.",
        "",
        *detection_lines(result, config),
        "",
        "Figures: histograms.png (score of normal against anomalous test images, thresholds dashed), roc.png "
        f"(ROC curves, AUROC in the legend), extremes.png (per class, the most and least anomalous test {sample}s).",
        "",
    ]
    return "\n".join(lines)
