"""The sweep's words: its plain-text table (for the terminal) and summary.md, each sentence computed from sweep.json.

Kept apart from the training (sweep.py) so that the text a reader sees can change without touching how the
models train; every number here is read from the result, never typed.
"""

from __future__ import annotations

import numpy as np

from aelab.data.description import WORDS


def format_table(result: dict) -> str:
    """The per-size numbers as a plain-text table (means over seeds; ± the sd when there are several)."""
    spread = len(result["seeds"]) > 1
    header = (
        f"{'code':>5} {'params':>8} {'train BCE':>10} {'test BCE':>9} {'test excess':>{19 if spread else 11}} "
        f"{'gap excess':>10} {'test MSE':>{19 if spread else 9}} {'PCA excess':>10} {'PCA MSE':>8}"
    )
    lines = [header]
    for entry in result["sizes"]:
        mean, std, pca = entry["mean"], entry["std"], entry["pca"]
        excess = f"{mean['test_bce_excess']:.4f}" + (f" ± {std['test_bce_excess']:.4f}" if spread else "")
        mse = f"{mean['test_mse']:.5f}" + (f" ± {std['test_mse']:.5f}" if spread else "")
        lines.append(
            f"{entry['code_size']:>5} {entry['n_parameters']:>8} {mean['train_bce']:>10.4f} {mean['test_bce']:>9.4f} "
            f"{excess:>{19 if spread else 11}} {mean['gap_bce_excess']:>10.4f} {mse:>{19 if spread else 9}} "
            f"{pca['test_bce_excess']:>10.4f} {pca['test_mse']:>8.5f}"
        )
    floor = result["bce_floor"]["test"]
    lines.append(
        f"excess = BCE − the test images' entropy floor {floor:.4f}; gap excess = test − train excess after training; "
        f"{result['seconds_training']:.1f} s for all {len(result['sizes']) * len(result['seeds'])} models"
    )
    return "\n".join(lines)


def summary_markdown(result: dict) -> str:
    """summary.md: the curve's flattening point, the train–test gap and the seed spread, from the numbers."""
    sizes, seeds = result["sizes"], result["seeds"]
    flat = result["flattening"]["test_bce_excess"]
    pct = f"{result['flattening']['tolerance']:.0%}"
    sample, values = WORDS[result.get("kind", "image")]
    value = values[:-1]  # pixel, value, column
    lines = [
        f"# Bottleneck sweep: {result['model']} autoencoders on {result['dataset']}",
        "",
        f"{len(sizes)} code sizes × {len(seeds)} seed(s), trained together for {result['epochs']} epoch(s) on "
        f"{result['n_train']} training {sample}s, evaluated on {result['n_test']} test {sample}s "
        f"({result['seconds_training']:.1f} s). BCE is in nats per {value}; *excess* is BCE minus the entropy floor "
        f"of the {sample}s themselves (test {result['bce_floor']['test']:.4f}, train "
        f"{result['bce_floor']['train']:.4f}), "
        "the part a model can remove. Train values are evaluated on the training set after training.",
        "",
        "| code size | train excess | test excess | gap (excess) | test MSE | gap (MSE) | seed sd (test BCE) "
        "| PCA test excess | PCA test MSE |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [size_row(e) for e in sizes]
    lines += [
        "",
        "## Where the curve flattens",
        "",
        flattening_sentence(sizes, flat, result["flattening"]["test_mse"], pct),
        "",
        *rise_sentence(sizes, flat),
        "",
        "## Train–test gap",
        "",
        gap_sentence(sizes, result["bce_floor"]),
        "",
        "## Spread across seeds",
        "",
        spread_sentence(sizes, seeds),
        "",
        "## PCA reference",
        "",
        pca_sentence(sizes),
        "",
    ]
    return "\n".join(lines)


def size_row(e: dict) -> str:
    """One code size's row of summary.md's table (means over seeds; the seed sd of the test BCE)."""
    m, sd, pca = e["mean"], e["std"]["test_bce"], e["pca"]
    return (
        f"| {e['code_size']} | {m['train_bce_excess']:.4f} | {m['test_bce_excess']:.4f} | "
        f"{m['gap_bce_excess']:+.4f} | "
        f"{m['test_mse']:.5f} | {m['gap_mse']:+.5f} | {'–' if sd is None else f'{sd:.4f}'} | "
        f"{pca['test_bce_excess']:.4f} | {pca['test_mse']:.5f} |"
    )


def flattening_sentence(sizes: list[dict], flat: dict, flat_mse: dict, pct: str) -> str:
    """Where the mean test excess (and MSE) come within the tolerance of their best, or that they do not."""
    return (
        f"Measured on the mean test BCE *excess* (plain BCE is dominated by the floor, so every size would be within "
        f"{pct} of the best): the best is {flat['best_value']:.4f} at code size {flat['best_code_size']}; the smallest "
        f"size within {pct} of it (≤ {flat['threshold']:.4f}) is **{flat['code_size']}** ({flat['value']:.4f}). "
        f"On test MSE the best is {flat_mse['best_value']:.5f} at {flat_mse['best_code_size']} and the smallest size "
        f"within {pct} is {flat_mse['code_size']}."
        + (
            f" No smaller size comes within {pct} of the best excess: the curve has not flattened by code size "
            f"{flat['code_size']}."
            if flat["code_size"] == sizes[-1]["code_size"] and len(sizes) > 1
            else ""
        )
    )


def rise_sentence(sizes: list[dict], flat: dict) -> list[str]:
    """A line on whether test loss rises past its best size (the variance side of the curve), if it does."""
    values = [e["mean"]["test_bce_excess"] for e in sizes]
    best = values.index(min(values))
    if best == len(values) - 1:
        return [
            f"The mean test excess is lowest at the largest size, {sizes[-1]['code_size']}: it does "
            "not rise within this range."
        ]
    worst = max(range(best + 1, len(values)), key=values.__getitem__)
    return [
        f"Past code size {flat['best_code_size']} the mean test excess rises, up to {values[worst]:.4f} at "
        f"{sizes[worst]['code_size']} ({values[worst] / values[best] - 1:+.1%} over the best)."
    ]


def gap_sentence(sizes: list[dict], floors: dict[str, float]) -> str:
    """The gap in excess BCE (test − train), its trend, and how much of the raw BCE gap is the floors'."""
    gaps = [e["mean"]["gap_bce_excess"] for e in sizes]
    ks = [e["code_size"] for e in sizes]
    trend = "grows with every step in size" if all(b > a for a, b in zip(gaps, gaps[1:])) else "is not monotone in size"
    relative = [g / e["mean"]["test_bce_excess"] for g, e in zip(gaps, sizes)]
    raw = [e["mean"]["gap_bce"] for e in sizes]
    return (
        f"Test minus train BCE *excess* (mean over seeds) goes from {gaps[0]:+.4f} at code size {ks[0]} to "
        f"{gaps[-1]:+.4f} at {ks[-1]}, ranging {min(gaps):+.4f} … {max(gaps):+.4f}; it {trend}. As a share of the "
        f"test excess it is {relative[0]:.1%} at {ks[0]} and {relative[-1]:.1%} at {ks[-1]}. The raw BCE gap "
        f"({min(raw):+.4f} … {max(raw):+.4f}) also holds the difference of the entropy floors, test − train = "
        f"{floors['test'] - floors['train']:+.4f}, which is the data's, not the model's."
    )


def spread_sentence(sizes: list[dict], seeds: list[int]) -> str:
    if len(seeds) < 2:
        return "One seed per size: the spread across seeds was not measured (run with --seeds 2 or more)."
    sds = [e["std"]["test_bce"] for e in sizes]
    widest = int(np.argmax(sds))
    steps = [abs(b["mean"]["test_bce"] - a["mean"]["test_bce"]) for a, b in zip(sizes, sizes[1:])]
    resolved = sum(
        step > 2 * max(a["std"]["test_bce"], b["std"]["test_bce"]) for step, a, b in zip(steps, sizes, sizes[1:])
    )
    return (
        f"Standard deviation of the final test BCE over {len(seeds)} seeds (initialisation only: data and batch "
        f"order are shared): {min(sds):.4f} … {max(sds):.4f}, largest at code size {sizes[widest]['code_size']} "
        f"({sds[widest] / sizes[widest]['mean']['test_bce_excess']:.1%} of its test excess). "
        f"{resolved} of {len(steps)} steps between adjacent sizes exceed twice the larger of their two sds."
    )


def pca_sentence(sizes: list[dict]) -> str:
    below = [e["code_size"] for e in sizes if e["mean"]["test_mse"] < e["pca"]["test_mse"]]
    above = [e["code_size"] for e in sizes if e["mean"]["test_mse"] >= e["pca"]["test_mse"]]

    def listed(ks: list[int]) -> str:
        return ", ".join(map(str, ks)) or "none"

    return (
        f"PCA (closed form, on the same training images) is the best *linear* reconstruction at each size. "
        f"The autoencoders' mean test MSE is below PCA's at code sizes: {listed(below)}; at or "
        f"above it at: {listed(above)}."
    )
