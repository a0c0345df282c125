"""A study as a list of steps: which run folders `aelab run` (and `aelab reproduce`) makes, with which configurations.

Kept apart from the running (reproduce.py) so that the plan can be read, tested and compared with
what is on disk without running anything: a step is done when its folder holds a finished result
for exactly its configuration.

A study's cells (studies/study.py) become steps here: train configs get their model family's
defaults (`resolve`), `quick` shrinks every step to seconds, and train cells that can share one
batched training — dense models without noise or L1 that differ only in code size and seed — are
merged into one sweep run folder, trained together as `aelab sweep` trains its models (all of
them on the base seed's subset and batch order, each initialised from its own seed).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from aelab.config import SWEEP_MODELS, SweepConfig, TrainConfig
from aelab.data.arrays import image_shape
from aelab.data.custom.paths import folder_label, is_path
from aelab.data.registry import get_spec
from aelab.models.registry import get_family, multiply_adds
from aelab.runs.folder import is_finished
from aelab.studies import Cell, Study, load_study
from aelab.tasks.recipe import resolve
from aelab.train.checkpoint import config_differences

QUICK = {"train_size": 2000, "test_size": 1000, "epochs": 1}
QUICK_CODE_SIZES = 2  # a quick sweep keeps its first two code sizes (the classic study's 5 and 20)
GRADIENT_CHECK = {"seed": 0, "n": 5, "n_features": 6, "n_hidden": 4}  # run_checks' defaults, recorded
RUN_KINDS = {
    "gradcheck": "gradients",
    "train": "train",
    "sweep": "sweep",
    "anomaly": "anomaly",
}  # a study's step kind → its run folder's kind
BATCHED = "batch"  # the folder-name prefix of a batched group of train cells


@dataclass(frozen=True)
class SizeEstimate:
    """Your own data is not read to plan a study; its steps' time estimate assumes MNIST's size."""

    n_features: int = 784
    n_train: int = 60_000


OWN_DATA_ESTIMATE = SizeEstimate()


@dataclass(frozen=True)
class PlannedRun:
    """One unit of a study: a run folder `name` (relative to out) and the config that makes it.

    `study_step` names the study's step it belongs to; `cells` holds the grid cells it computes
    (one for an ordinary cell of a grid, several for a batched group, none outside a grid).
    """

    name: str
    kind: str  # "gradients", "train" or "sweep"
    dataset: str | None
    config: TrainConfig | SweepConfig | None
    study_step: str | None = None
    cells: tuple[Cell, ...] = ()

    def config_json(self) -> dict:
        """The config as config.json's "config" holds it (JSON round trip: tuples read back as lists)."""
        return json.loads(json.dumps(GRADIENT_CHECK if self.config is None else self.config.to_json()))

    def cost(self) -> float:
        """Relative cost for the time-left estimate: image passes, weighted by the parameters touched."""
        if self.config is None:
            return 0.0
        spec = get_spec(self.dataset) if not is_path(self.dataset) else OWN_DATA_ESTIMATE
        codes = self.config.code_sizes if self.kind == "sweep" else (self.config.code_size,)
        hidden = self.config.hidden_sizes if get_family(self.config.model).uses_hidden_sizes else ()
        copies = self.config.seeds if self.kind in ("sweep", "anomaly") else 1  # anomaly: ~the training set, per seed
        params = copies * sum(n_parameters(spec.n_features, k, hidden) for k in codes)
        if get_family(self.config.model).convolutional:  # its work per image, as a dense model's is its parameters
            params = work_per_image(self.config.model, image_shape(spec.n_features), self.config.code_size)
        return self.config.epochs * (self.config.train_size or spec.n_train) * (1 + params / 100_000)

    def record(self) -> dict:
        """The step as reproduce.json lists it; grid cells with their varying settings, for the report."""
        entry = {"name": self.name, "kind": self.kind, "dataset": self.dataset, "status": None, "seconds": None}
        if self.cells:
            entry["step"] = self.study_step
            entry["cells"] = [
                {
                    "varying": json.loads(json.dumps(dict(c.varying))),
                    **({"code_size": c.config.code_size, "seed": c.config.seed} if c.kind == "train" else {}),
                }
                for c in self.cells
            ]
        return entry


@functools.lru_cache(maxsize=256)
def work_per_image(model: str, sample_shape: tuple[int, ...], code_size: int) -> int:
    """`multiply_adds`, counted once per model, shape and code size: it builds the model (~0.1 s), and a dry run asks
    for every run's cost, the progress line for every unfinished run's at each line."""
    return multiply_adds(model, sample_shape, code_size)


def n_parameters(n_features: int, code_size: int, hidden: tuple[int, ...]) -> int:
    """Weights and biases of the mirrored dense autoencoder n_features → hidden… → code → …hidden → n_features."""
    widths = [n_features, *hidden, code_size]
    return 2 * sum(a * b for a, b in zip(widths, widths[1:])) + sum(widths[1:]) + sum(widths[:-1])


def plan(datasets: tuple[str, ...], quick: bool) -> list[PlannedRun]:
    """The classic study's steps (classic.toml) on `datasets`: gradients; every model on every data set; the sweeps.

    The models get the study's settings (`resolve`: 5 or 10 epochs, the denoiser's Gaussian noise,
    the sparse model's L1), the denoiser its single noise draw (`fixed_noise`, as the original);
    the sweep SweepConfig's defaults, code sizes 5:100:15. `quick` shrinks every step to seconds.
    """
    return plan_study(load_study("classic").with_datasets(tuple(datasets)), quick)


def plan_study(study: Study, quick: bool) -> list[PlannedRun]:
    """The run folders of `study`, in order: the kinds of work in the order the file first names them,
    each data set's in turn, steps and grid points in the file's order (batched groups where their first cell was)."""
    cells = [finish(cell, quick) for cell in study.cells()]
    kind_rank = {kind: i for i, kind in enumerate(dict.fromkeys(c.kind for c in cells))}
    dataset_rank = {name: i for i, name in enumerate(study.datasets)}
    cells.sort(key=lambda c: (kind_rank[c.kind], dataset_rank.get(c.dataset, -1)))  # stable: the file's order within
    gridded = {step.name for step in study.steps if step.grid()}
    steps, placed = [], set()
    groups = batch_groups([c for c in cells if c.step in gridded and c.kind == "train"])
    for cell in cells:
        group = groups.get(id(cell))
        if group is not None:
            if id(group[0]) not in placed:
                placed.add(id(group[0]))
                steps.append(batched_step(group))
            continue
        steps.append(single_step(cell, cell.step in gridded))
    return steps


def finish(cell: Cell, quick: bool) -> Cell:
    """The cell's config as it runs: quick sizes, and a train config's family defaults filled in."""
    config = cell.config
    if config is None:
        return cell
    if quick:
        extra = {"code_sizes": config.code_sizes[:QUICK_CODE_SIZES]} if cell.kind == "sweep" else {}
        if cell.kind == "train":
            extra = {"clean_epochs": 0}  # a quick run's one epoch is the noisy one
        config = dataclasses.replace(config, **QUICK, **extra)
    if cell.kind == "train":
        config = resolve(config)
    return dataclasses.replace(cell, config=config)


def label(varying) -> str:
    """A folder name from grid values: code_size=16,model=deep (lists joined by x, e.g. hidden_sizes=256x128)."""

    def text(value) -> str:
        if isinstance(value, tuple):
            return "x".join(map(str, value))
        if isinstance(value, bool):
            return str(value).lower()
        if value is None:  # an optional count left to its default: every sample ("all", as it is typed)
            return "all"
        return (
            repr(value) if isinstance(value, float) else str(value)
        )  # repr: the shortest text that reads back, so distinct

    return ",".join(f"{key}={text(value)}" for key, value in varying)


def single_step(cell: Cell, in_grid: bool) -> PlannedRun:
    if cell.dataset is None:
        return PlannedRun(cell.step, RUN_KINDS[cell.kind], None, cell.config)
    name = f"{folder_label(cell.dataset)}/{cell.step}" + (f"/{label(cell.varying)}" if in_grid else "")
    return PlannedRun(name, RUN_KINDS[cell.kind], cell.dataset, cell.config, cell.step, (cell,) if in_grid else ())


def batchable(config: TrainConfig) -> bool:
    """A dense model without input noise or L1: the batched sweep trains exactly this objective."""
    # your own data is not batched: whether it trains with BCE (which the sweep needs) is known only once it is read
    return config.model in SWEEP_MODELS and config.noise is None and not config.l1 and not is_path(config.dataset)


def batch_groups(cells: list[Cell]) -> dict[int, list[Cell]]:
    """Train cells that can train together, by id(cell) → their group (two or more cells).

    Same step, data set and every setting but code size and seed; the seeds consecutive and every
    (code size, seed) pair present, as a sweep of `seeds` models per size trains them.
    """
    groups: dict[tuple, list[Cell]] = {}
    for cell in cells:
        if batchable(cell.config):
            rest = dataclasses.replace(cell.config, code_size=1, seed=0)
            groups.setdefault((cell.step, cell.dataset, rest), []).append(cell)
    found = {}
    for group in groups.values():
        sizes = sorted({c.config.code_size for c in group})
        seeds = sorted({c.config.seed for c in group})
        pairs = {(c.config.code_size, c.config.seed) for c in group}
        complete = len(pairs) == len(group) == len(sizes) * len(seeds)
        if len(group) > 1 and complete and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
            found.update({id(c): group for c in group})
    return found


def batched_step(group: list[Cell]) -> PlannedRun:
    """One sweep run folder for a group of train cells (see `batch_groups`)."""
    first = group[0].config
    config = SweepConfig(
        model=first.model,
        dataset=first.dataset,
        code_sizes=tuple(sorted({c.config.code_size for c in group})),
        epochs=first.epochs,
        batch_size=first.batch_size,
        learning_rate=first.learning_rate,
        seeds=len({c.config.seed for c in group}),
        seed=min(c.config.seed for c in group),
        train_size=first.train_size,
        test_size=first.test_size,
        hidden_sizes=first.hidden_sizes,
        engine=first.engine,
        device=first.device,
        deterministic=first.deterministic,
    )
    shared = [(k, v) for k, v in group[0].varying if k not in ("code_size", "seed")]
    name = f"{folder_label(group[0].dataset)}/{group[0].step}/{BATCHED}" + (f",{label(shared)}" if shared else "")
    return PlannedRun(name, "sweep", group[0].dataset, config, group[0].step, tuple(group))


def saved_config(folder: Path) -> dict | None:
    """config.json's "config" in `folder`, or None if there is none to read."""
    try:
        return json.loads((folder / "config.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_done(folder: Path, step: PlannedRun) -> bool:
    """A finished result for the same configuration (a different one, or no marker, is run again)."""
    return is_finished(folder) and same_config(folder, step)


def same_config(folder: Path, step: PlannedRun) -> bool:
    """`folder`'s config.json holds `step`'s configuration (wherever it ran; the scale and loss a cell leaves to your
    own data as they resolved: train.checkpoint.config_differences)."""
    saved = saved_config(folder)
    return isinstance(saved, dict) and not config_differences(saved, step.config_json())
