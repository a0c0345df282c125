"""The old home of run folders and tasks (before the tree was split into runs/, tasks/ and studies/).

Kept so that an import written for the old tree — a notebook's `from aelab.experiments.train_one import
train_run` — fails with one line naming where the names went, instead of a bare ModuleNotFoundError.
"""

from __future__ import annotations

import importlib.abc
import sys

MOVED = {
    "train_one": "aelab.tasks.train (train_run) and aelab.tasks.recipe (resolve, seeded_generators, select, "
    "model_and_trainer, final_metrics)",
    "reproduce": "aelab.studies.runner (run_study, reproduce, dry_run)",
    "study_plan": "aelab.studies.plan",
    "on_ray": "aelab.studies.on_ray",
    "sweep": "aelab.tasks.sweep",
    "pca": "aelab.tasks.pca",
    "run_data": "aelab.tasks.run_data",
    "fit_dataset": "aelab.tasks.fit_dataset",
    "anomaly": "aelab.tasks.anomaly.run",
    "anomaly_data": "aelab.tasks.anomaly.data",
    "anomaly_metrics": "aelab.tasks.anomaly.metrics",
    "anomaly_scores": "aelab.tasks.anomaly.scores",
    "anomaly_summary": "aelab.tasks.anomaly.summary",
    "anomaly_unlabelled": "aelab.tasks.anomaly.unlabelled",
    "one_class": "aelab.tasks.anomaly.one_class",
    "probe": "aelab.tasks.probe.features",
    "probe_runs": "aelab.tasks.probe.runs",
    "runs": "aelab.runs.folder",
    "run_lock": "aelab.runs.lock",
    "checkpointing": "aelab.runs.checkpointing",
    "saved_run": "aelab.runs.saved",
    "run_figures": "aelab.runs.figures",
    "family_figures": "aelab.runs.family_figures",
    "summary": "aelab.runs.summary",
}


class MovedModules(importlib.abc.MetaPathFinder):
    """Answers an import of `aelab.experiments.X` with an ImportError that names X's new module."""

    def find_spec(self, fullname: str, path=None, target=None):
        prefix = __name__ + "."
        if fullname.startswith(prefix):
            old = fullname[len(prefix) :].split(".")[0]
            where = MOVED.get(old, "aelab.runs, aelab.tasks or aelab.studies (docs/ARCHITECTURE.md)")
            raise ImportError(f"{fullname} has moved: import from {where}")
        return None


if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
    sys.meta_path.insert(0, MovedModules())
