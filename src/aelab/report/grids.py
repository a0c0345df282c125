"""The report's grids: each study step with settings that vary, as tables and as plots against each setting.

A grid cell is either its own train run folder (metrics.json) or one model of a batched group (a
sweep run folder, sweep.json: the entry of its code size and seed); reproduce.json's step records
say which cells each folder holds. Cells that differ only in seed are one row: the mean over
seeds, ± their standard deviation. Nothing is retrained; the figures are drawn from these numbers.
A batched cell has no folder of its own, so its row says how to open its model (`aelab.load` with
its code size and seed): every model a study trains can be loaded, explored and probed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from aelab.fileio import atomic_save
from aelab.report.blocks import code, dataset_title, figure, number, table

FIGURES = "figures"  # under the study's folder, beside report.md
# (metrics key, column label, format); the clean_ ones exist for denoising runs (scored on clean inputs too)
METRICS = (
    ("test_bce_excess", "test BCE excess", ".4f"),
    ("test_mse", "test MSE", ".5f"),
    ("clean_test_bce_excess", "clean-input BCE excess", ".4f"),
    ("clean_test_mse", "clean-input MSE", ".5f"),
    ("test_code_zero_fraction", "code zeros", ".1%"),
)
PLOTTED = ("test_bce_excess", "test_mse", "clean_test_mse", "test_code_zero_fraction")


def cell_metrics(run: dict, cell: dict) -> dict | None:
    """The final metrics of one grid cell, from its run folder; None while the folder is unfinished."""
    if not run["finished"]:
        return None
    if run["kind"] == "train":
        final = run.get("metrics", {}).get("final", {})
        return {key: final.get(key) for key, _, _ in METRICS}
    entry = next((e for e in run.get("sweep", {}).get("sizes", []) if e["code_size"] == cell.get("code_size")), None)
    found = next((r for r in (entry or {}).get("runs", []) if r["seed"] == cell.get("seed")), None)
    return None if found is None else {key: found["final"].get(key) for key, _, _ in METRICS}


def grid_cells(study: dict) -> dict[str, list[dict]]:
    """Per study step with a grid, in order: its cells with data set, varying settings, folder and metrics."""
    steps: dict[str, list[dict]] = {}
    for run in study["runs"]:
        for cell in run.get("cells") or []:
            if run["kind"] == "sweep" and "code_size" not in cell:
                continue  # a grid of sweeps: each is its own sweep section
            steps.setdefault(run["step"], []).append(
                {
                    "dataset": run["dataset"],
                    "varying": cell["varying"],
                    "folder": run["name"],
                    "metrics": cell_metrics(run, cell),
                    "batched": run["kind"] == "sweep",
                    "code_size": cell.get("code_size"),
                    "seed": cell.get("seed"),
                }
            )
    return steps


def settings_of(cells: list[dict]) -> list[str]:
    """The varying settings but the seed, in the study file's order."""
    return [key for key in cells[0]["varying"] if key != "seed"]


def rows(cells: list[dict]) -> list[dict]:
    """One row per combination of the varying settings but the seed: mean and sd over its finished seeds."""
    keys = settings_of(cells)
    groups: dict[tuple, list[dict]] = {}
    for cell in cells:
        groups.setdefault((cell["dataset"], *(repr(cell["varying"][k]) for k in keys)), []).append(cell)
    out = []
    for group in groups.values():
        done = [c["metrics"] for c in group if c["metrics"] is not None]
        row = {
            "dataset": group[0]["dataset"],
            "settings": {k: group[0]["varying"][k] for k in keys},
            "seeds": len(done),
            "of": len(group),
            "folders": sorted({c["folder"] for c in group}),
            "opens": opening(group),
        }
        for key, _, _ in METRICS:
            values = np.array([m[key] for m in done if m.get(key) is not None], dtype=float)
            row[key] = float(values.mean()) if len(values) else None
            row[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else None
        out.append(row)
    return out


def opening(group: list[dict]) -> str | None:
    """How a row's batched models open (`aelab.load` with its code size and seed, paths from the study's folder),
    or None for cells with folders of their own."""
    batched = [c for c in group if c["batched"]]
    if not batched or len({(c["folder"], c["code_size"]) for c in batched}) > 1:
        return None  # a row's cells share every setting but the seed: one batched folder and one code size
    seeds = ", ".join(str(c["seed"]) for c in batched)
    folder, code_size = batched[0]["folder"], batched[0]["code_size"]
    if len(batched) == 1:
        return code(f"aelab.load({folder!r}, code_size={code_size}, seed={seeds})")
    return code(f"aelab.load({folder!r}, code_size={code_size}, seed=S)") + f", S ∈ {{{seeds}}}"


def shown(value) -> str:
    return (
        "×".join(map(str, value))
        if isinstance(value, list)
        else repr(value)
        if isinstance(value, float)
        else str(value)
    )


def grid_table(step_rows: list[dict]) -> list[str]:
    present = [m for m in METRICS if any(r[m[0]] is not None for r in step_rows)]
    keys = list(step_rows[0]["settings"])
    spread = any(r["of"] > 1 for r in step_rows)
    batched = any(r["opens"] for r in step_rows)
    body = []
    for r in step_rows:
        values = [
            number(r[k], f) + (f" ± {r[f'{k}_sd']:{f}}" if r[f"{k}_sd"] is not None else "") for k, _, f in present
        ]
        opens = [r["opens"] or "–"] if batched else []
        body.append(
            [
                *(shown(r["settings"][k]) for k in keys),
                *([f"{r['seeds']}/{r['of']}"] if spread else []),
                *values,
                *opens,
            ]
        )
    header = [
        *keys,
        *(["seeds"] if spread else []),
        *(label for _, label, _ in present),
        *(["opens with"] if batched else []),
    ]
    return table(header, body, "l" * len(keys) + "r" * (len(header) - len(keys) - batched) + "l" * batched)


def figure_name(step: str, dataset: str, setting: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", f"{step}-{dataset}-{setting}") + ".png"


def series(
    step_rows: list[dict], setting: str, key: str
) -> tuple[list, dict[str, tuple[np.ndarray, np.ndarray | None]]]:
    """x values of `setting` and, per combination of the other settings, the mean and sd of `key` at each."""
    xs = list(dict.fromkeys(repr(r["settings"][setting]) for r in step_rows))
    values = {repr(r["settings"][setting]): r["settings"][setting] for r in step_rows}
    lines: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for r in step_rows:
        others = ", ".join(f"{k}={shown(v)}" for k, v in r["settings"].items() if k != setting)
        mean, sd = lines.setdefault(others, (np.full(len(xs), np.nan), np.full(len(xs), np.nan)))
        i = xs.index(repr(r["settings"][setting]))
        mean[i] = np.nan if r[key] is None else r[key]
        sd[i] = np.nan if r[f"{key}_sd"] is None else r[f"{key}_sd"]
    return [values[x] for x in xs], {
        label: (m, None if np.isnan(s).all() else np.nan_to_num(s)) for label, (m, s) in lines.items()
    }


def draw_grid_figures(out: Path, study: dict) -> dict[tuple[str, str, str], str]:
    """Draw each grid's plots (one per data set and varying setting) into out/figures/; their paths relative to out."""
    from aelab.plots.grid import grid_figure

    drawn = {}
    for step, cells in grid_cells(study).items():
        step_rows = rows(cells)
        labels = {key: label for key, label, _ in METRICS}
        plotted = [k for k in PLOTTED if any(r[k] is not None for r in step_rows)]
        if not plotted:
            continue
        for dataset in dict.fromkeys(r["dataset"] for r in step_rows):
            here = [r for r in step_rows if r["dataset"] == dataset]
            for setting in settings_of(cells):
                panels = []
                for key in plotted:
                    xs, lines = series(here, setting, key)
                    panels.append((labels[key], lines))
                fig = grid_figure(setting, xs, panels, title=f"{step} on {dataset_title(dataset)}")
                path = Path(FIGURES) / figure_name(step, dataset, setting)
                atomic_save(out / path, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=100))
                drawn[(step, dataset, setting)] = path.as_posix()
    return drawn


def grids(study: dict) -> list[str]:
    """The grid sections: per step, which settings vary, a table per data set and the plots."""
    lines = []
    figures = study.get("grid_figures") or {}
    for step, cells in grid_cells(study).items():
        varying = {key: list(dict.fromkeys(repr(c["varying"][key]) for c in cells)) for key in cells[0]["varying"]}
        batched = sorted({c["folder"] for c in cells if "/batch" in c["folder"]})
        lines += [
            f"## Grid: {step}",
            "",
            "Settings that vary: "
            + "; ".join(f"{code(k)} over {len(v)} values" for k, v in varying.items())
            + f" — {len(cells)} cells. Final test metrics, the mean over seeds ± their standard deviation where "
            "there are several; BCE excess is BCE above the test images' entropy floor (nats per pixel).",
            "",
        ]
        if batched:
            lines += [
                f"{len(batched)} group(s) of cells that differ only in code size and seed trained "
                "together as one batched "
                "sweep (all on the first seed's training subset and batch order, each model from its own seed): "
                + ", ".join(code(f) for f in batched)
                + ". Each cell is a model of its own: the table's last column loads it (paths from the study's "
                "folder), and `aelab explore FOLDER --code-size K --seed S` writes its page.",
                "",
            ]
        step_rows = rows(cells)
        for dataset in dict.fromkeys(r["dataset"] for r in step_rows):
            lines += [f"### {step} on {dataset_title(dataset)}", ""]
            lines += grid_table([r for r in step_rows if r["dataset"] == dataset])
            for setting in settings_of(cells):
                path = figures.get((step, dataset, setting))
                if path:
                    lines += figure(
                        path,
                        f"{step} against {setting}",
                        f"Final test metrics against {setting}; one line per combination of the other settings, "
                        "error bars ± one standard deviation over seeds.",
                    )
    return lines
