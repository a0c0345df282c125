"""Values and runs several test modules share: where the real data is, the files a train run promises, and
the quick reproduction (run once per session; test_reproduce.py, test_report.py and test_report_browser.py read it).

`quick_study` runs on Fashion-MNIST from a data folder that holds only it, so MNIST is missing and must be
skipped, with an output folder and a data folder whose names hold HTML, which the report must escape.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from aelab.studies.runner import reproduce

REAL_DATA_DIR = os.environ.get("AELAB_DATA_DIR")
PROMISED = [
    "config.json",
    "metrics.json",
    "model.safetensors",
    "checkpoint.safetensors",
    "reconstructions.png",
    "worst.png",
    "weights.png",
    "loss.png",
    "summary.md",
    "finished.json",
]


@functools.cache
def _quick_study(base: Path) -> dict:
    data_dir = base / "data<img src=x onerror=alert(1)>"
    data_dir.mkdir(parents=True)
    (data_dir / "fashion-mnist").symlink_to(Path(REAL_DATA_DIR) / "fashion-mnist")
    out, lines = base / "st<script>udy", []
    with pytest.MonkeyPatch.context() as patch:  # as conftest's isolated_env, which is per test, not per session
        patch.delenv("AELAB_DATA_DIR", raising=False)
        for name, folder in (("XDG_CACHE_HOME", "cache"), ("KERAS_HOME", "keras")):
            patch.setenv(name, str(base / folder))
        patch.setenv("AELAB_OFFLINE", "1")
        patch.setattr("aelab.data.locate.DEBIAN_ROOT", base / "debian")
        manifest = reproduce(out, quick=True, data_dir=data_dir, quiet=True, log=lines.append)
    return {"out": out, "data_dir": data_dir, "manifest": manifest, "lines": lines}


def quick_study(tmp_path_factory) -> dict:
    """The quick reproduction (run once per session): out, data_dir, manifest and the console lines."""
    if not REAL_DATA_DIR:
        pytest.skip("AELAB_DATA_DIR is not set (make test and .ci/run set it)")
    return _quick_study(tmp_path_factory.getbasetemp() / "quick-study")
