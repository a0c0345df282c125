"""The study's report, from run folders only: report.md and a self-contained report.html.

`collect` reads the folders (never retrains); `markdown` writes the report as Markdown, and `html`
renders that same text into one page with everything embedded.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_report"]


def write_report(out: str | os.PathLike, manifest: dict | None = None) -> dict[str, Path]:
    """Write out/report.md and out/report.html from the folders under `out`; returns their paths."""
    from aelab.report.collect import collect
    from aelab.report.grids import draw_grid_figures
    from aelab.report.html import write_html
    from aelab.report.markdown import write_markdown

    study = collect(out, manifest)
    study["grid_figures"] = draw_grid_figures(Path(out), study)  # the grids' plots, drawn from the collected numbers
    return {"markdown": write_markdown(out, study), "html": write_html(out, study)}
