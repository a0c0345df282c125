"""Generate docs/RESULTS.md: train the study's models on both data sets and tabulate the measured numbers.

    .venv/bin/python scripts/results.py [--runs runs/results] [--datasets mnist,fashion-mnist]

Each model's run folder is kept under --runs; a folder that already holds a finished run of the
same configuration is read, not retrained. Every number in the page comes from those folders.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

from aelab.config import FigureConfig, TrainConfig
from aelab.devices import config_identity, cpu_model
from aelab.fileio import atomic_write_text
from aelab.runs.folder import is_finished
from aelab.tasks.recipe import resolve
from aelab.tasks.train import train_run

# The study's models with its settings; the denoiser draws its noise once, as the original did.
STUDY = {
    "shallow": TrainConfig(model="shallow"),
    "deep": TrainConfig(model="deep"),
    "denoising (fixed noise)": TrainConfig(model="denoising", fixed_noise=True),
    "sparse": TrainConfig(model="sparse"),
}
# Final training loss of the original Keras study and of today's Keras run on this machine (issue 3).
KERAS = {
    ("fashion-mnist", "shallow"): (0.2835, 0.2840),
    ("fashion-mnist", "deep"): (0.2729, 0.2735),
    ("fashion-mnist", "denoising (fixed noise)"): (0.2791, 0.2799),
    ("mnist", "shallow"): (None, 0.0947),
}
TOLERANCE = 0.005


def run_or_read(config: TrainConfig, folder: Path) -> dict:
    """The metrics of `config`, training only if no finished run of the same config is in `folder`."""
    config = resolve(config)
    if is_finished(folder):
        saved = json.loads((folder / "config.json").read_text())["config"]
        if config_identity(saved) == config_identity(config.to_json()):  # where it ran (device) is not what it is
            print(f"{folder}: finished run found, not retrained")
            return json.loads((folder / "metrics.json").read_text())
    return train_run(config, folder, FigureConfig())


def row(dataset: str, name: str, metrics: dict) -> str:
    f = metrics["final"]
    original, today = KERAS.get((dataset, name), (None, None))
    ref = original if original is not None else today
    verdict = "" if ref is None else ("within ±0.005" if abs(f["train_loss"] - ref) <= TOLERANCE else "OUTSIDE ±0.005")
    fmt = lambda v: "—" if v is None else f"{v:.4f}"  # noqa: E731
    return (
        f"| {dataset} | {name} | {f['train_loss']:.4f} | {fmt(original)} | {fmt(today)} | {verdict} "
        f"| {f['test_bce']:.4f} | "
        f"{f['test_bce_floor']:.4f} | {f['test_bce_excess']:.4f} | {f['test_mse']:.5f} | {f['test_psnr_db']:.2f} | "
        f"{f['test_code_zero_fraction']:.1%} |"
    )


# The Keras examples' logged numbers (issue 14), each with its tolerance: (run name, config, metric key, reference, ±).
KERAS_EXAMPLES = [
    ("conv", TrainConfig(model="conv", dataset="mnist", batch_size=128, epochs=50), "test_bce", 0.0622, 0.003),
    (
        "conv-denoising",
        TrainConfig(
            model="conv-denoising", dataset="mnist", batch_size=128, epochs=150, clean_epochs=50, fixed_noise=True
        ),
        "test_bce",
        0.0839,
        0.003,
    ),
    (
        "conv-vae",
        TrainConfig(model="conv-vae", dataset="mnist", code_size=2, batch_size=128, epochs=30, train_with_test=True),
        "train_loss",
        146.95,
        2.0,
    ),
    ("conv-vae", None, "train_reconstruction", 140.15, None),
    ("conv-vae", None, "train_kl", 6.80, 1.0),
    (
        "conv-vae-held-out",
        TrainConfig(model="conv-vae", dataset="mnist", code_size=2, batch_size=128, epochs=30),
        "test_elbo",
        None,
        None,
    ),
]
FAMILY_NOTES = [
    "",
    "## The conv and variational families against the Keras examples",
    "",
    "The Keras examples' logged numbers (issue 14): the conv autoencoder's test loss (mean BCE) after 50 epochs on",
    "clean MNIST and after 100 more as a denoiser (noise 0.4, drawn once; one run of 150 epochs, the first 50 clean),",
    "batch 128; the conv VAE's last-epoch training loss and parts (nats per image) after 30",
    "epochs on MNIST's 70,000 train and test images, batch 128; and its held-out test ELBO when trained on the 60,000",
    "alone. The runs take hours on a CPU: `scripts/results.py --families` trains them; until then the measured",
    "column says so.",
    "",
    "| run | metric | measured | Keras example | tolerance | vs reference |",
    "|---|---|---|---|---|---|",
]


def family_section(runs: Path, train: bool) -> list[str]:
    """FAMILY_NOTES and one row per logged number: measured where a finished run is there (or `train`)."""
    rows, metrics = [], {}
    for name, config, key, reference, tolerance in KERAS_EXAMPLES:
        folder = runs / f"mnist-{name}"
        if config is not None and (train or is_finished(folder)):
            metrics[name] = run_or_read(config, folder)
        value = metrics.get(name, {}).get("final", {}).get(key)
        measured = "not yet measured" if value is None else f"{value:.4f}"
        verdict = (
            ""
            if value is None or tolerance is None
            else (f"within ±{tolerance:g}" if abs(value - reference) <= tolerance else f"OUTSIDE ±{tolerance:g}")
        )
        rows.append(
            f"| {name} | {key} | {measured} | {'—' if reference is None else reference} | "
            f"{'—' if tolerance is None else f'±{tolerance:g}'} | {verdict} |"
        )
    return FAMILY_NOTES + rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/results")
    parser.add_argument("--datasets", default="mnist,fashion-mnist")
    parser.add_argument("--out", default="docs/RESULTS.md")
    parser.add_argument(
        "--families",
        action="store_true",
        help="also train the conv and VAE families' reference runs "
        "(hours on a CPU); without it their finished folders under --runs are read, else 'not yet measured'",
    )
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets.split(","):
        for name, config in STUDY.items():
            folder = Path(args.runs) / f"{dataset}-{name.split()[0]}"
            rows.append(
                row(dataset, name, run_or_read(TrainConfig.from_json({**config.to_json(), "dataset": dataset}), folder))
            )
    header = [
        "# Results: the study's autoencoders, measured",
        "",
        f"Generated by `scripts/results.py` on {datetime.date.today().isoformat()} ({platform.machine()}, "
        f"{cpu_model()}); seed 0, batch 32, Adam (lr 1e-3), binary cross-entropy; every number below",
        "is read from the run folders the script wrote. *Train loss* is the mean over the last epoch's steps,",
        "as Keras reports it; for the sparse model it includes the L1 term. Test numbers are on the 10,000 test",
        "images (for the denoiser: noisy test inputs, clean targets). The *floor* is the mean entropy of the",
        "test pixels — the lowest BCE any model can reach on grey-level images — and *excess* is BCE above it.",
        "Timings are not given here (they depend on what else the machine runs): see BENCHMARKS.md.",
        "",
        "| data set | model | train loss | Keras, original | Keras, today | vs reference | test BCE | floor | excess | "
        "test MSE | PSNR dB | code zeros |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    atomic_write_text(args.out, "\n".join(header + rows + family_section(Path(args.runs), args.families)) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
