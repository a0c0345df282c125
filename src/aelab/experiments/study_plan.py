"""The study as a list of steps: which run folders `aelab reproduce` makes, with which configurations.

Kept apart from the running (reproduce.py) so that the plan can be read, tested and compared with
what is on disk without running anything: a step is done when its folder holds a finished result
for exactly its configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aelab.config import SweepConfig, TrainConfig
from aelab.data.registry import get_spec
from aelab.experiments.runs import is_finished
from aelab.experiments.train_one import resolve
from aelab.models.registry import get_family

MODELS = ("shallow", "deep", "denoising", "sparse")
QUICK = {"train_size": 2000, "test_size": 1000, "epochs": 1}
QUICK_CODE_SIZES = (5, 20)
GRADIENT_CHECK = {"seed": 0, "n": 5, "n_features": 6, "n_hidden": 4}  # run_checks' defaults, recorded


@dataclass(frozen=True)
class Step:
    """One unit of the reproduction: a run folder `name` (relative to out) and the config that makes it."""

    name: str
    kind: str  # "gradients", "train" or "sweep"
    dataset: str | None
    config: TrainConfig | SweepConfig | None

    def config_json(self) -> dict:
        """The config as config.json's "config" holds it (JSON round trip: tuples read back as lists)."""
        return json.loads(json.dumps(GRADIENT_CHECK if self.config is None else self.config.to_json()))

    def cost(self) -> float:
        """Relative cost for the time-left estimate: image passes, weighted by the parameters touched."""
        if self.config is None:
            return 0.0
        spec = get_spec(self.dataset)
        codes = self.config.code_sizes if self.kind == "sweep" else (self.config.code_size,)
        hidden = self.config.hidden_sizes if get_family(self.config.model).uses_hidden_sizes else ()
        params = sum(n_parameters(spec.n_features, k, hidden) for k in codes)
        return self.config.epochs * (self.config.train_size or spec.n_train) * (1 + params / 100_000)


def n_parameters(n_features: int, code_size: int, hidden: tuple[int, ...]) -> int:
    """Weights and biases of the mirrored dense autoencoder n_features → hidden… → code → …hidden → n_features."""
    widths = [n_features, *hidden, code_size]
    return 2 * sum(a * b for a, b in zip(widths, widths[1:])) + sum(widths[1:]) + sum(widths[:-1])


def plan(datasets: tuple[str, ...], quick: bool) -> list[Step]:
    """The study's steps, in order: gradients; every model on every data set; the sweep on each.

    The models get the study's settings (`resolve`: 5 or 10 epochs, the denoiser's Gaussian noise,
    the sparse model's L1), the denoiser its single noise draw (`fixed_noise`, as the original);
    the sweep SweepConfig's defaults, code sizes 5:100:15. `quick` shrinks every step to seconds.
    """
    sizes = QUICK if quick else {}
    steps = [Step("gradients", "gradients", None, None)]
    for dataset in datasets:
        for model in MODELS:
            config = TrainConfig(model=model, dataset=dataset, fixed_noise=model == "denoising", **sizes)
            steps.append(Step(f"{dataset}/{model}", "train", dataset, resolve(config)))
    for dataset in datasets:
        extra = {**QUICK, "code_sizes": QUICK_CODE_SIZES} if quick else {}
        steps.append(Step(f"{dataset}/sweep", "sweep", dataset, SweepConfig(dataset=dataset, **extra)))
    return steps


def saved_config(folder: Path) -> dict | None:
    """config.json's "config" in `folder`, or None if there is none to read."""
    try:
        return json.loads((folder / "config.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_done(folder: Path, step: Step) -> bool:
    """A finished result for the same configuration (a different one, or no marker, is run again)."""
    return is_finished(folder) and saved_config(folder) == step.config_json()
