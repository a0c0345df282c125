"""report.md: the whole report as Markdown, beside the run folders it links its figures from.

report.md sits at the top of the reproduction's folder, so each figure is a relative link into the
run folder that drew it (`fashion-mnist/shallow/loss.png`): nothing is copied, and the folder can
be moved or zipped as a whole. GitHub and most editors render its tables and `$…$` math.
"""

from __future__ import annotations

import os
from pathlib import Path

from aelab.fileio import atomic_write_text
from aelab.report import sections
from aelab.report.codes import anomalies, probes
from aelab.report.grids import grids
from aelab.report.provenance import provenance

REPORT_MD = "report.md"


def report_markdown(study: dict) -> str:
    """The report's text, from `collect.collect(out)`; the HTML page is rendered from this same text."""
    lines = [
        *sections.header(study),
        *sections.gradients(study),
        *sections.models(study),
        *sections.comparison(study),
        *grids(study),
        *sections.sweeps(study),
        *anomalies(study),
        *probes(study),
        *sections.skipped(study),
        *provenance(study),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(out: str | os.PathLike, study: dict) -> Path:
    return atomic_write_text(Path(out) / REPORT_MD, report_markdown(study))
