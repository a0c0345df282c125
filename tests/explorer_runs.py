"""Small trained runs on real MNIST for the explorer's tests (tests/test_explorer*.py), made once per module.

Each trains for two epochs on 3,000 images (~190 steps): seconds, enough for a model whose reconstructions and
codes differ from image to image. The study's default sizes are kept (784 → 128 → 32 → 128 → 784 for
deep), so the page's size is the size it has for the study's models.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from aelab.config import TrainConfig
from aelab.tasks.train import train_run

SMALL = {"dataset": "mnist", "train_size": 3000, "test_size": 500, "epochs": 2}


def trained_run(tmp_path_factory, name: str, **settings) -> Path:
    """A finished `aelab train` folder of `settings` on real MNIST, isolated from the user's cache."""
    from shared_runs import REAL_DATA_DIR

    if not REAL_DATA_DIR:
        pytest.skip("AELAB_DATA_DIR is not set (make test and .ci/run set it)")
    out = tmp_path_factory.mktemp("explorer-runs") / name
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("AELAB_OFFLINE", "1")
        train_run(TrainConfig(**{**SMALL, **settings}), out, data_dir=REAL_DATA_DIR, quiet=True, log=lambda line: None)
    return out


def floats(text: str) -> np.ndarray:
    """An array the page reads from base64 (little-endian float32 bytes), as NumPy reads it."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def page_data(folder: Path) -> dict:
    """The JSON block of the folder's explorer.html, as the page reads it."""
    from aelab.explorer import EXPLORER_HTML

    page = (folder / EXPLORER_HTML).read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S)[1])
