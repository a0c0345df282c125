"""Read a reproduction's run folders into plain dicts — the report's only input; nothing is retrained.

The folders are the source of truth: `reproduce.json` says which steps were asked for and what
happened to each (run, skipped as already done, or missing data); every number comes from the
step's own config.json, metrics.json, sweep.json or checks.json. Without a reproduce.json (folders
copied by hand) the steps are discovered from the folder layout instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aelab.runs.summary import PROBES, without_section

FINISHED = "finished.json"
MANIFEST = "reproduce.json"
ANOMALY_FIGURES = ("roc.png", "histograms.png", "extremes.png")
TRAIN_FIGURES = ("reconstructions.png", "worst.png", "weights.png", "loss.png")
TRAIN_FIGURES += (
    "filters.png",
    "feature_maps.png",
    "codes.png",
    "manifold.png",
    "manifold_codes.png",
    "samples.png",
    "interpolation.png",
    "traversals.png",
)  # the conv and variational families' (runs/family_figures.py)
MODEL_ORDER = ("shallow", "deep", "denoising", "sparse")
EXPLORER_HTML = "explorer.html"  # aelab.explorer's page (that package imports the library; the report only reads files)


def read_json(path: Path):
    """The parsed file, or None if it is absent or unreadable (an unfinished step, not an error)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def collect(out: str | os.PathLike, manifest: dict | None = None) -> dict:
    """Everything the report shows, from the folders under `out`.

    Returns {"out", "manifest", "runs": [one dict per step, in order], "datasets": [names in order],
    "missing": {data set: reason}}; each run has "name" (its folder, relative to out, with "/"),
    "kind", "dataset", "status", "seconds", "finished", and when finished its files' contents.
    """
    out = Path(out)
    manifest = manifest if manifest is not None else (read_json(out / MANIFEST) or {})
    steps = manifest.get("steps") or discover(out)
    runs = [read_run(out, step) for step in steps]
    datasets = list(dict.fromkeys(manifest.get("datasets") or [r["dataset"] for r in runs if r["dataset"]]))
    return {
        "out": str(out),
        "manifest": manifest,
        "runs": runs,
        "datasets": datasets,
        "missing": dict(manifest.get("missing") or {}),
    }


def discover(out: Path) -> list[dict]:
    """Steps found on disk: gradients/, then <data set>/<model>/ and <data set>/sweep/."""
    steps = [{"name": "gradients", "kind": "gradients", "dataset": None}] if (out / "gradients").is_dir() else []
    models, sweeps = [], []
    for dataset in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "gradients"):
        for folder in sorted(p for p in dataset.iterdir() if (p / "config.json").is_file()):
            step = {"name": f"{dataset.name}/{folder.name}", "dataset": dataset.name}
            if (folder / "sweep.json").is_file() or folder.name == "sweep":
                sweeps.append({**step, "kind": "sweep"})
            else:
                models.append({**step, "kind": "train"})
    rank = {name: i for i, name in enumerate(MODEL_ORDER)}
    models.sort(key=lambda s: (s["dataset"], rank.get(s["name"].split("/")[-1], len(rank)), s["name"]))
    return steps + models + sweeps


def read_run(out: Path, step: dict) -> dict:
    """One step's folder: config and results if it finished, else only what the step record says."""
    folder = out / step["name"]
    run = {
        "name": step["name"],
        "kind": step["kind"],
        "dataset": step.get("dataset"),
        "status": step.get("status"),
        "seconds": step.get("seconds"),
        "finished": (folder / FINISHED).is_file(),
        "step": step.get("step"),
        "cells": step.get("cells") or [],
    }  # a study grid's cells (report/grids.py)
    if not run["finished"]:
        return run
    run["config"] = read_json(folder / "config.json") or {}
    run["finished_at"] = (read_json(folder / FINISHED) or {}).get("date")
    if step["kind"] == "gradients":
        run["checks"] = read_json(folder / "checks.json") or []
        run["derivation"] = read_text(folder / "derivation.md")
    elif step["kind"] == "anomaly":
        run["anomaly"] = read_json(folder / "anomaly.json") or {}
        run["summary"] = read_text(folder / "summary.md") or ""
        run["figures"] = [name for name in ANOMALY_FIGURES if (folder / name).is_file()]
        return run
    elif step["kind"] == "sweep":
        run["sweep"] = read_json(folder / "sweep.json") or {}
        run["summary"] = without_section(read_text(folder / "summary.md") or "", PROBES)
        run["figures"] = [name for name in ("sweep.png",) if (folder / name).is_file()]
    else:
        run["metrics"] = read_json(folder / "metrics.json") or {}
        run["summary"] = without_section(read_text(folder / "summary.md") or "", PROBES)  # the report has its own
        run["figures"] = [name for name in TRAIN_FIGURES if (folder / name).is_file()]
        run["explorer"] = (folder / EXPLORER_HTML).is_file()  # written by `aelab explore`, linked by the report
    run["probe"], run["tsne"] = read_json(folder / "probe.json"), (folder / "tsne.png").is_file()  # from `aelab probe`
    run["probe_figure"] = (folder / "probe.png").is_file()
    return run


def finished_runs(study: dict, kind: str, dataset: str | None = None) -> list[dict]:
    return [
        r for r in study["runs"] if r["finished"] and r["kind"] == kind and (dataset is None or r["dataset"] == dataset)
    ]


def in_grid(run: dict) -> bool:
    """A cell (or batched cells) of a study grid, shown in the grid's section rather than on its own.

    A grid of sweeps is not: each of its sweeps keeps its own section, as any sweep."""
    return bool(run["cells"]) and (run["kind"] == "train" or "code_size" in run["cells"][0])


COMPARISON_KEYS = (
    "train_loss",
    "test_bce",
    "test_bce_floor",
    "test_bce_excess",
    "test_mse",
    "test_psnr_db",
    "test_code_zero_fraction",
)


def comparison_rows(study: dict) -> list[dict]:
    """One row per finished model: its final metrics (metrics.json "final") and training seconds."""
    rows = []
    for run in (r for r in finished_runs(study, "train") if not in_grid(r)):
        final = run["metrics"].get("final", {})
        rows.append(
            {
                "dataset": run["dataset"],
                "model": run["config"].get("config", {}).get("model", run["name"]),
                "name": run["name"],
                **{key: final.get(key) for key in COMPARISON_KEYS},
                "seconds_training": run["metrics"].get("seconds_training"),
            }
        )
    return rows


def environment(study: dict) -> dict:
    """Versions and machine: the reproduction's record, else the first run's."""
    if study["manifest"].get("environment"):
        return study["manifest"]["environment"]
    for run in study["runs"]:
        if run["finished"] and run["config"].get("environment"):
            return run["config"]["environment"]
    return {}


def data_sources(study: dict) -> dict[str, str]:
    """Where each data set was read from, as its runs recorded it."""
    sources: dict[str, str] = {}
    for run in study["runs"]:
        if run["finished"] and run["dataset"] and run["config"].get("data_source"):
            sources.setdefault(run["dataset"], run["config"]["data_source"])
    return sources
