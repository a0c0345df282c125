"""Shared fixtures: every test runs with its own empty cache, no downloads and no Keras cache.

Real data comes only from `$AELAB_DATA_DIR` (the Makefile and .ci/run point it at the shared
copy); tests that need it use the `real_data_dir` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from shared_runs import REAL_DATA_DIR

from aelab.data.idx import write_idx
from aelab.data.registry import REGISTRY, SPLIT_FILES, DatasetSpec


def pytest_configure(config):
    """One BLAS for the whole session, the one this machine's own choice names (native/blas.py): every test gets an
    empty cache of its own, so without this each process a test starts would time the candidates anew — and where
    they run close (MKL 596 against OpenBLAS 707 µs on an AMD EPYC, under the load of the suite itself) a run and its
    resume could multiply with different libraries. The tests of the choice itself unset AELAB_BLAS."""
    if "AELAB_BLAS" in os.environ:
        return
    try:
        from aelab.native import blas
        from aelab.native._kernels import ffi
    except ImportError:  # no compiled kernels here: the autograd engine needs no BLAS choice
        return
    chosen, _ = blas.choose(ffi, blas.installed()[0])  # the candidates and the choice the kernels' loader makes
    os.environ["AELAB_BLAS"] = chosen.name


def pytest_collection_modifyitems(config, items):
    """Mark every test that reads the real data sets `real_data`, so `make test-fast` can leave them out;
    without a CUDA GPU, deselect the `gpu` tests (counted as deselected, not passed: see the header)."""
    for item in items:
        if "real_data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)
    if not gpu_present():
        gpu = [item for item in items if item.get_closest_marker("gpu")]
        if gpu:
            config.hook.pytest_deselected(items=gpu)
            items[:] = [item for item in items if not item.get_closest_marker("gpu")]


def gpu_present() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_report_header(config):
    """Say in the header whether the GPU tests run here."""
    if gpu_present():
        import torch

        return f"gpu tests: run on {torch.cuda.get_device_name(0)}"
    return "gpu tests: deselected (no CUDA GPU here); they run where torch.cuda.is_available()"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """No test sees the user's cache, Keras cache or network; the real data dir stays as given."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    monkeypatch.setattr("aelab.data.locate.DEBIAN_ROOT", home / "debian")
    from aelab.data.load import clear_loaded

    clear_loaded()
    yield


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not REAL_DATA_DIR:
        pytest.skip("AELAB_DATA_DIR is not set (make test and .ci/run set it)")
    return Path(REAL_DATA_DIR)


def make_tiny_arrays(seed: int = 0, n_train: int = 64, n_test: int = 16) -> dict[str, np.ndarray]:
    """Small random images and labels in the IDX layout of the real files."""
    rng = np.random.default_rng(seed)
    return {
        SPLIT_FILES["train_images"]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        SPLIT_FILES["train_labels"]: rng.integers(0, 10, n_train, dtype=np.uint8),
        SPLIT_FILES["test_images"]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        SPLIT_FILES["test_labels"]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


@pytest.fixture
def tiny_dataset(tmp_path, monkeypatch):
    """A registered data set 'tiny' (64 train, 16 test images) written as .gz IDX under tmp/data/tiny."""
    root = tmp_path / "data"
    spec, arrays = write_tiny_dataset(root)
    monkeypatch.setitem(REGISTRY, "tiny", spec)
    return root, spec, arrays


def write_tiny_dataset(root: Path) -> tuple[DatasetSpec, dict]:
    """The 'tiny' data set's four .gz IDX files under root/tiny, and its spec (to register) and arrays."""
    import hashlib

    from aelab.data.idx import encode_idx

    arrays = make_tiny_arrays()
    for name, array in arrays.items():
        write_idx(root / "tiny" / f"{name}.gz", array)
    return DatasetSpec(
        name="tiny",
        title="tiny test set",
        sha256={name: hashlib.sha256(encode_idx(a)).hexdigest() for name, a in arrays.items()},
        mirrors=(),
        class_names=tuple(str(i) for i in range(10)),
        n_train=64,
        n_test=16,
    ), arrays


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module (the browser tests skip without it)."""
    from browser_pages import CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()
