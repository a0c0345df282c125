"""A trained model's run folder written in one go: weights, metrics, figures, summary, then the finished marker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aelab.config import FigureConfig
from aelab.data.description import described
from aelab.fileio import atomic_write_json
from aelab.runs.checkpointing import CHECKPOINT
from aelab.runs.figures import draw_run_figures
from aelab.runs.folder import mark_finished
from aelab.runs.summary import write_summary
from aelab.train.checkpoint import save_weights


def write_outputs(
    out: Path,
    model: torch.nn.Module,
    run_config: dict,
    metrics: dict,
    figures: FigureConfig,
    test_x: torch.Tensor,
    test_inputs: torch.Tensor | None,
    test_labels: np.ndarray | None,
    kept: tuple[str, ...] = (),
) -> list[str]:
    """Weights, metrics, figures and summary, then the finished marker last; returns the files written.

    The checkpoint (`out`/checkpoint.safetensors) must already be there: it is listed among the files, as are the
    `kept` files already written (a saved model's test samples).
    What the data is (run_config's `description`) decides how each figure is drawn; unlabelled test
    samples are titled by their index.
    """
    save_weights(out / "model.safetensors", model, run_config["config"])
    atomic_write_json(out / "metrics.json", metrics)
    description = described(run_config)
    pictures, omitted = draw_run_figures(
        out,
        model,
        figures,
        test_x,
        test_inputs,
        test_labels,
        description,
        metrics["epochs"],
        metrics["final"].get("test_bce_floor"),
    )
    write_summary(out / "summary.md", run_config, metrics, pictures, omitted)
    files = ["config.json", "metrics.json", "model.safetensors", CHECKPOINT, *kept, *pictures, "summary.md"]
    mark_finished(out, files)
    return files
