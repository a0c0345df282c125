"""The kinds of step a study may hold, by name: which config dataclass their settings fill.

A registry (a plain dict) so that a later kind is one entry here and one function in
`studies/execute.py`'s RUNNERS; an unknown kind gets a close-match suggestion. The settings of a step
are exactly the fields of its config dataclass — the same dataclass that generates the CLI's
options — less the ones the study itself decides (the data set: a study runs every step on each
of its data sets).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aelab.config import AnomalyConfig, SweepConfig, TrainConfig
from aelab.registries import lookup


@dataclass(frozen=True)
class StepKind:
    """What a step of this kind is made of.

    `config` is the frozen dataclass its settings build (None: the kind takes no settings);
    `per_dataset` whether it runs once per data set of the study (its config gets `dataset`).
    """

    config: type | None
    per_dataset: bool
    description: str

    def settings(self) -> dict[str, dataclasses.Field]:
        """The fields a study may set, by name (every field of the config but the data set)."""
        if self.config is None:
            return {}
        return {f.name: f for f in dataclasses.fields(self.config) if f.name != "dataset"}


KINDS: dict[str, StepKind] = {
    "train": StepKind(TrainConfig, True, "train one autoencoder per cell (the settings of `aelab train`)"),
    "sweep": StepKind(SweepConfig, True, "a code-size sweep beside PCA (the settings of `aelab sweep`)"),
    "gradcheck": StepKind(
        None, False, "the hand-derived gradients against finite differences and autograd (no settings)"
    ),
    "anomaly": StepKind(
        AnomalyConfig, True, "one-class anomaly detection over the data set's classes (the settings of `aelab anomaly`)"
    ),
}


def get_kind(name: str) -> StepKind:
    """The step kind called `name`; a typo gets a close-match suggestion."""
    return lookup(name, KINDS, "step kind")
