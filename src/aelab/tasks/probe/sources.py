"""Where a probed folder's models and data come from: its config.json, its weights, and its data reopened.

A probe scores codes against the classes of the very samples the model was trained and tested on,
so the data is opened exactly as training opened it (tasks/run_data.py, from the saved config: the
same split, scaling and loss from its seed, test fraction, scale and loss) and checked against what
config.json recorded of it: your own data whose content digest changed since would be probed on
other samples than the run's. Everything a folder can be refused for is found here, before any probe
runs, so one bad folder among several fails the command before minutes of fits on the others.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from aelab.config import SweepConfig, TrainConfig
from aelab.data import Dataset
from aelab.data.custom.in_memory import ARRAYS
from aelab.data.custom.paths import is_path
from aelab.data.registry import get_spec
from aelab.errors import CheckpointError, DataError, InputError
from aelab.runs.checkpointing import CHECKPOINT, read_state
from aelab.runs.folder import is_finished
from aelab.runs.saved import parsed_config, read_json, read_run
from aelab.tasks.run_data import load_run_data
from aelab.tasks.sweep import build_model, model_grid

# config.json's `dataset` of a model fitted from Python on arrays (api.ARRAYS; the API sits above tasks/).
NOT_FINISHED = "not a finished run (no finished.json): expected a finished train or sweep folder"


@dataclass(frozen=True)
class Source:
    """A finished train or sweep folder, read: its config.json and the config that trained it."""

    folder: Path
    run_config: dict  # config.json as written
    config: TrainConfig | SweepConfig
    sweep: bool

    @property
    def record(self) -> dict | None:
        """What config.json recorded of your own data (identity, split, scaling, class names); None for built-ins."""
        return self.run_config.get("data")

    @property
    def dataset(self) -> str:
        """The data set's name, or your own data's absolute path as recorded (`--dataset` may have been relative to
        where training ran); the path as given when the recorded one is gone."""
        recorded = (self.record or {}).get("identity", {}).get("path")
        return recorded if recorded is not None and Path(recorded).exists() else self.config.dataset


def read_source(folder: Path) -> Source:
    """The folder's config, refused in one line when nothing in it can be probed (not finished, arrays, no weights)."""
    if not is_finished(folder):
        raise CheckpointError(f"{folder}: {NOT_FINISHED}")
    sweep = (folder / "sweep.json").is_file()
    run_config = read_json(folder / "config.json")
    config = parsed_config(folder, run_config, SweepConfig if sweep else TrainConfig, "a train or sweep run's config")
    if config.dataset == ARRAYS:
        raise InputError(
            f"{folder}: trained from Python on arrays, which are not kept with the run: expected a run on data "
            "aelab can reopen (fit on aelab.open_dataset(PATH) or `aelab train --dataset PATH`), or probe from "
            "Python: Autoencoder.transform's codes into aelab.tasks.probe.features.probe_accuracy"
        )
    if sweep and not (folder / CHECKPOINT).is_file():
        raise CheckpointError(
            f"{folder}: a sweep without {CHECKPOINT}: expected the checkpoint the sweep keeps its weights in"
        )
    return Source(folder, run_config, config, sweep)


def data_key(source: Source) -> tuple:
    """What decides the samples a run saw: the data set, and for your own data its options and the split's seed."""
    if not is_path(source.config.dataset):
        return (source.config.dataset,)
    options = ("image_size", "label_column", "test_fraction", "scale", "loss", "seed")
    return (source.dataset, *(getattr(source.config, name, None) for name in options))


def open_all(sources: list[Source], data_dir) -> dict[tuple, Dataset]:
    """Each distinct data set of `sources` reopened once (by data_key), every folder checked against it."""
    datasets: dict[tuple, Dataset] = {}
    for source in sources:
        key = data_key(source)
        if key not in datasets:
            datasets[key] = reopen(source, data_dir)
        check_identity(source, datasets[key])
        check_labels(source, datasets[key])
    return datasets


def reopen(source: Source, data_dir) -> Dataset:
    """The run's data opened as training opened it: its saved config's options, with the split's seed and fraction
    and the scaling as config.json recorded them (a run fitted from Python on aelab.open_dataset keeps those only
    there, its config carrying the estimator's own seed)."""
    config, record = dataclasses.replace(source.config, dataset=source.dataset), source.record or {}
    split = record.get("split", {})
    if split.get("method") == "fraction":
        config = dataclasses.replace(config, test_fraction=split["test_fraction"], seed=split["seed"])
    if "scaling" in record:
        config = dataclasses.replace(config, scale=record["scaling"]["method"])
    try:
        return load_run_data(config, data_dir, quiet=True)
    except DataError as exc:
        raise type(exc)(f"{source.folder}: the run's data: {exc}") from None


def check_identity(source: Source, data: Dataset) -> None:
    """Your own data must hash as it did when the run trained (config.json's data.identity.sha256), and reopen to
    the shape and split it recorded."""
    recorded = (source.record or {}).get("identity", {}).get("sha256")
    if recorded is None or data.record is None:
        return
    now = data.record["identity"]["sha256"]
    if now != recorded:
        raise DataError(
            f"the data at {source.dataset} changed since the run trained: SHA-256 {now[:12]}…, "
            f"{source.folder / 'config.json'} recorded {recorded[:12]}…: expected the same content (train again on "
            "the new data, or restore the old)"
        )
    opened = (data.record["identity"]["shape"], data.record["split"]["n_train"], data.record["split"]["n_test"])
    split = source.record.get("split", {})
    trained = (source.record["identity"].get("shape"), split.get("n_train"), split.get("n_test"))
    if opened != trained:
        raise DataError(
            f"{source.folder}: the data at {source.dataset} reopens as shape {opened[0]}, {opened[1]} training and "
            f"{opened[2]} test samples; the run recorded {trained[0]}, {trained[1]} and {trained[2]}: expected the "
            "options it trained with (a run fitted in Python on open_dataset(PATH, label_column=…, image_size=…) "
            "does not keep them: train with `aelab train --dataset PATH …` to probe it)"
        )


def check_labels(source: Source, data: Dataset) -> None:
    """Probes measure class accuracy: both splits need labels, of at least two classes."""
    if data.train_labels is None or data.test_labels is None:
        raise InputError(
            f"{source.folder}: the data at {source.dataset} has no labels: a probe measures class accuracy, "
            "expected a run on labelled data (class subfolders, a --label-column, y_train/y_test in an .npz)"
        )
    classes = len(set(data.train_labels.tolist()))
    if classes < 2:
        raise InputError(f"{source.folder}: the data at {source.dataset} has {classes} class: expected at least two")


def class_names(source: Source, data: Dataset) -> tuple[str, ...]:
    """The classes' names as the run recorded them (your own data), else the data set's, else the label numbers."""
    names = (source.record or {}).get("class_names") or data.class_names
    if names is None and data.spec is not None:
        names = data.spec.class_names
    if names is None:
        names = [str(i) for i in range(int(max(data.train_labels.max(), data.test_labels.max())) + 1)]
    return tuple(names)


def raw_features(data: Dataset) -> str:
    """What the raw-feature baseline row is called: pixels of images, inputs of signals and table rows."""
    return data.description.raw_name


def folder_models(source: Source, data: Dataset) -> list[dict]:
    """[{"model", "code_size", "seed", "test_bce", "module"}] of the folder: one model, or a sweep's every one."""
    if not source.sweep:
        run = read_run(source.folder)
        return [
            {
                "model": run.config.model,
                "code_size": run.config.code_size,
                "seed": run.config.seed,
                "test_bce": run.final.get("test_bce"),
                "module": run.model,
            }
        ]
    config = source.config
    tensors, _ = read_state(source.folder)
    batched = build_model(config, math.prod(data.sample_shape) if data.record else get_spec(config.dataset).n_features)
    batched.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    sweep = read_json(source.folder / "sweep.json")
    test_bce = {(e["code_size"], r["seed"]): r["final"]["test_bce"] for e in sweep["sizes"] for r in e["runs"]}
    return [
        {
            "model": config.model,
            "code_size": k,
            "seed": seed,
            "test_bce": test_bce.get((k, seed)),
            "module": batched.extract(m).eval(),
        }
        for m, (k, seed) in enumerate(model_grid(config))
    ]
