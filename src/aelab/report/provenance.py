"""The report's last section: what was run, with which settings, on which data, machine and versions.

So that any number above can be traced to the folder, configuration and software that produced it.
"""

from __future__ import annotations

from aelab.report.blocks import code, dataset_title, number, table
from aelab.report.collect import data_sources, environment, finished_runs

STATUS = {"run": "run", "skipped": "already done, kept", "missing": "no data: skipped", None: "not reached"}


def provenance(study: dict) -> list[str]:
    manifest = study["manifest"]
    data_dir = manifest.get("data_dir")
    lines = [
        "## Configuration, versions, machine and timings",
        "",
        f"Output folder {code(study['out'])}; data searched in "
        + (
            f"{code(data_dir)} first, then the default places."
            if data_dir
            else "the default places (`$AELAB_DATA_DIR`, the aelab cache, Debian's datasets, the Keras cache)."
        )
        + (
            f" Quick run: {'yes' if manifest.get('quick') else 'no'}; total {number(manifest.get('seconds'), '.1f')} s."
            if manifest
            else ""
        ),
        "",
    ]
    return (
        lines
        + steps(study)
        + train_settings(study)
        + sweep_settings(study)
        + engines(study)
        + data(study)
        + versions(study)
    )


def training_seconds(run: dict) -> float | None:
    if not run["finished"]:
        return None
    return (run.get("metrics") or run.get("sweep") or {}).get("seconds_training")


def steps(study: dict) -> list[str]:
    rows = [
        [
            i + 1,
            code(r["name"]),
            STATUS.get(r["status"], r["status"]),
            number(r["seconds"], ".1f"),
            number(training_seconds(r), ".1f"),
            r.get("finished_at") or "–",
        ]
        for i, r in enumerate(study["runs"])
    ]
    return [
        "### Steps",
        "",
        "*seconds*: the whole step (data, training, figures), from the reproduction that ran it; "
        "*training*: the training alone, from the folder.",
        "",
        *table(["#", "step", "status", "seconds", "training", "finished"], rows, "rllrrl"),
    ]


def train_settings(study: dict) -> list[str]:
    rows = []
    for run in finished_runs(study, "train"):
        c = run["config"].get("config", {})
        hidden = ",".join(map(str, c.get("hidden_sizes", []))) if c.get("model") in ("deep", "denoising") else "–"
        noise = (
            f"{c['noise']} {c['noise_factor']:g}" + (" fixed" if c.get("fixed_noise") else "")
            if c.get("noise")
            else "–"
        )
        rows.append(
            [
                run["name"],
                c.get("code_size"),
                hidden,
                c.get("epochs"),
                c.get("batch_size"),
                f"{c.get('learning_rate'):g}",
                c.get("seed"),
                c.get("train_size") or "all",
                c.get("test_size") or "all",
                noise,
                f"{c['l1']:g} ({c['l1_reduction']})" if c.get("l1") else "–",
            ]
        )
    if not rows:
        return []
    return [
        "### Model settings",
        "",
        *table(
            [
                "run",
                "code",
                "hidden",
                "epochs",
                "batch",
                "learning rate",
                "seed",
                "train set",
                "test set",
                "noise",
                "L1",
            ],
            rows,
            "lrrrrrrrrll",
        ),
    ]


def sweep_settings(study: dict) -> list[str]:
    rows = []
    for run in finished_runs(study, "sweep"):
        c = run["config"].get("config", {})
        rows.append(
            [
                run["name"],
                c.get("model"),
                ",".join(map(str, c.get("code_sizes", []))),
                c.get("epochs"),
                c.get("batch_size"),
                f"{c.get('learning_rate'):g}",
                c.get("seeds"),
                c.get("seed"),
                c.get("train_size") or "all",
                c.get("test_size") or "all",
            ]
        )
    if not rows:
        return []
    return [
        "### Sweep settings",
        "",
        *table(
            [
                "run",
                "model",
                "code sizes",
                "epochs",
                "batch",
                "learning rate",
                "seeds",
                "seed",
                "train set",
                "test set",
            ],
            rows,
            "lllrrrrrrr",
        ),
    ]


def engine_row(run: dict) -> list:
    """A run's engine record (config.json's "engine"): which step computed it, on what."""
    e = run["config"].get("engine") or {}
    blas = e.get("blas")
    blas = (
        " ".join(str(v) for v in (blas.get("library"), blas.get("version"), blas.get("architecture")) if v)
        if isinstance(blas, dict)
        else blas
    )
    return [
        run["name"],
        e.get("engine", "–"),
        e.get("threads", "–"),
        code(blas or "–"),
        code(e.get("isa", "–")),
        e.get("fallback", "–"),
    ]


def engines(study: dict) -> list[str]:
    rows = [engine_row(run) for kind in ("train", "sweep") for run in finished_runs(study, kind)]
    if not rows:
        return []
    return [
        "### Engine",
        "",
        "*compiled*: the hand-written step (docs/engine.md); *autograd*: the PyTorch reference; "
        "*fallback*: why the compiled step was asked for but did not run.",
        "",
        *table(["run", "engine", "threads", "BLAS", "instruction set", "fallback"], rows, "llrlll"),
    ]


def data(study: dict) -> list[str]:
    sources = data_sources(study)
    if not sources:
        return []
    return [
        "### Data",
        "",
        *table(["data set", "read from"], [[dataset_title(k), code(v)] for k, v in sources.items()]),
    ]


def versions(study: dict) -> list[str]:
    env = environment(study)
    if not env:
        return []
    keys = [
        ("aelab", "aelab"),
        ("torch", "PyTorch"),
        ("numpy", "NumPy"),
        ("python", "Python"),
        ("machine", "machine"),
        ("processor", "processor"),
        ("cpu_count", "CPUs"),
        ("torch_threads", "torch threads"),
        ("date", "recorded"),
    ]
    return [
        "### Versions and machine",
        "",
        *table(["", "value"], [[label, code(env.get(key, "–"))] for key, label in keys]),
    ]
