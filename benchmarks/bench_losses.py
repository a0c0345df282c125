"""Do the JAX peer's models learn what aelab's learn? Final losses after 5 epochs on Fashion-MNIST.

aelab trains with `aelab train` (its CLI, default engine); the JAX peer (benchmarks/peers/jax_study.py)
with both training variants, the jitted-step loop and the `lax.scan` epoch. Their random streams
differ (initial weights, batch order), so the losses differ by about the spread between seeds, not
by zero; a difference beyond ±0.005 (the tolerance aelab keeps against the Keras study) means the
peer trains a different model, its timings would compare different work, and the check fails.

Both of the peer's sweep forms (joint and padded) are also checked against the seven models trained
alone, a few steps on the same batches: they must agree to float rounding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from peer_runs import JAX_TRAINING, ROOT, jax_run, run_peer  # noqa: E402

TOLERANCE = 0.005  # docs/RESULTS.md: every final loss within ±0.005 of the reference
SWEEP_TOLERANCE = 1e-5  # the sweep forms do the same float32 arithmetic as the models alone
EPOCHS = 5
AELAB = Path(sys.executable).with_name("aelab")


def aelab_losses(model: str, data_dir: str) -> dict[str, float]:
    """Last epoch's mean training loss and test loss of `aelab train` (a fresh process, as a user runs it)."""
    with tempfile.TemporaryDirectory(prefix="aelab-bench-") as folder:
        subprocess.run(
            [
                str(AELAB),
                "train",
                "--model",
                model,
                "--dataset",
                "fashion-mnist",
                "--epochs",
                str(EPOCHS),
                "--out",
                f"{folder}/run",
                "--data-dir",
                data_dir,
                "--quiet",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        last = json.loads(Path(f"{folder}/run/metrics.json").read_text())["epochs"][-1]
    return {"train_loss": last["train_loss"], "test_loss": last["test_loss"]}


def jax_losses(model: str, variant: str, data_dir: str) -> dict[str, float]:
    record = jax_run(model, variant, "default", data_dir, "--epochs", str(EPOCHS), "--test")
    return {"train_loss": record["train_loss"][-1], "test_loss": record["test_loss"]}


def run(data_dir: str, models=("shallow", "deep")) -> dict:
    """Print and return every loss and difference; raise if the peer is outside the tolerance."""
    table: dict = {}
    print(f"\nfinal losses after {EPOCHS} epochs, Fashion-MNIST (train = mean over the last epoch's steps; test):")
    for model in models:
        table[model] = {"aelab": aelab_losses(model, data_dir)}
        for variant in dict.fromkeys(
            variant for variant, _ in JAX_TRAINING.values()
        ):  # loop, scan (threads do not change the math)
            table[model][f"jax {variant}"] = jax_losses(model, variant, data_dir)
        for name, losses in table[model].items():
            print(f"  {model:<8} {name:<10} {losses['train_loss']:.4f}  {losses['test_loss']:.4f}")
    sweep = run_peer("jax_study.py", "--check-sweep", "--data-dir", data_dir)
    table["sweep"] = sweep
    print(
        f"  sweep: joint and padded forms against the 7 models alone, largest loss difference "
        f"{sweep['max_difference_joint']:.1e} and {sweep['max_difference_padded']:.1e}"
    )
    failures = [
        f"{model} {name} {key} {losses[key]:.4f} against aelab's {table[model]['aelab'][key]:.4f} (±{TOLERANCE})"
        for model in models
        for name, losses in table[model].items()
        for key in ("train_loss", "test_loss")
        if abs(losses[key] - table[model]["aelab"][key]) > TOLERANCE
    ]
    failures += [
        f"sweep {form}: {sweep[f'max_difference_{form}']:.1e} from the models alone (±{SWEEP_TOLERANCE})"
        for form in ("joint", "padded")
        if sweep[f"max_difference_{form}"] > SWEEP_TOLERANCE
    ]
    if failures:
        raise SystemExit(f"the JAX peer does not train the models aelab trains: {'; '.join(failures)}")
    print(f"  every JAX loss within ±{TOLERANCE} of aelab's")
    return table


if __name__ == "__main__":
    run(os.environ.get("AELAB_DATA_DIR", str(ROOT.parent / "shared" / "data")))
