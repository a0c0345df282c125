"""Locating, verifying, caching and downloading data sets — on tiny synthetic sets and on the real ones."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from aelab.data import load_dataset
from aelab.data.idx import encode_idx, write_idx
from aelab.data.locate import cache_root, locate
from aelab.data.registry import REGISTRY, get_spec
from aelab.errors import ConfigError, DataError, DatasetNotFoundError


def test_tiny_set_loads_scaled_and_shaped(tiny_dataset):
    root, spec, arrays = tiny_dataset
    data = load_dataset("tiny", data_dir=root)
    assert data.train_images.shape == (64, 784) and data.train_images.dtype == np.float32
    assert data.test_images.shape == (16, 784)
    np.testing.assert_allclose(data.train_images, arrays["train-images-idx3-ubyte"].reshape(64, 784) / np.float32(255))
    np.testing.assert_array_equal(data.train_labels, arrays["train-labels-idx1-ubyte"])
    assert 0.0 <= data.train_images.min() and data.train_images.max() <= 1.0
    unflat = load_dataset("tiny", data_dir=root, flatten=False)
    assert unflat.test_images.shape == (16, 28, 28)
    assert data.source.startswith("--data-dir")


def test_verified_copy_lands_in_cache_and_is_found_there(tiny_dataset):
    root, spec, _ = tiny_dataset
    load_dataset("tiny", data_dir=root)
    cached = cache_root() / "tiny"
    assert sorted(p.name for p in cached.iterdir()) == sorted(spec.sha256)
    for name, digest in spec.sha256.items():  # cache holds decompressed, verified payloads
        assert hashlib.sha256((cached / name).read_bytes()).hexdigest() == digest
    assert load_dataset("tiny").source.startswith("aelab cache")


def test_a_process_keeps_one_copy_and_sees_edited_files(tiny_dataset):
    """reproduce loads a data set once per step (two threads at a time): one shared copy, not one per call."""
    from aelab.data.load import clear_loaded

    root, _, arrays = tiny_dataset
    first = load_dataset("tiny", data_dir=root)
    assert load_dataset("tiny", data_dir=root) is first
    assert load_dataset("tiny", data_dir=root, flatten=False) is not first
    path = root / "tiny" / "t10k-labels-idx1-ubyte.gz"
    write_idx(path, arrays["t10k-labels-idx1-ubyte"])  # the same bytes, written again: a new mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    again = load_dataset("tiny", data_dir=root)
    assert again is not first and np.array_equal(again.test_labels, first.test_labels)
    clear_loaded()
    assert load_dataset("tiny", data_dir=root) is not again


def test_search_order_data_dir_then_env(tiny_dataset, tmp_path, monkeypatch):
    root, spec, _ = tiny_dataset
    monkeypatch.setenv("AELAB_DATA_DIR", str(root))
    found, places = locate(spec, data_dir=tmp_path / "empty")
    assert [p.label for p in places[:3]] == ["--data-dir", "$AELAB_DATA_DIR", "aelab cache"]
    assert found.place.label == "$AELAB_DATA_DIR"


def test_digest_mismatch_names_file_and_leaves_no_cache(tiny_dataset):
    root, spec, arrays = tiny_dataset
    tampered = arrays["t10k-labels-idx1-ubyte"].copy()
    tampered[0] = (tampered[0] + 1) % 10
    write_idx(root / "tiny" / "t10k-labels-idx1-ubyte.gz", tampered)
    with pytest.raises(
        DataError, match=r"t10k-labels-idx1-ubyte.gz: SHA-256 mismatch: expected [0-9a-f]{64}, got"
    ) as info:
        load_dataset("tiny", data_dir=root)
    assert "\n" not in str(info.value)
    assert not (cache_root() / "tiny").exists()


def test_wrong_image_size_is_refused(tiny_dataset, monkeypatch):
    root, spec, arrays = tiny_dataset
    small = np.zeros((64, 14, 14), np.uint8)
    write_idx(root / "tiny" / "train-images-idx3-ubyte.gz", small)
    sha = dict(spec.sha256, **{"train-images-idx3-ubyte": hashlib.sha256(encode_idx(small)).hexdigest()})
    monkeypatch.setitem(REGISTRY, "tiny", type(spec)(**{**spec.__dict__, "sha256": sha}))
    with pytest.raises(DataError, match=r"expected \(64, 28, 28\)"):
        load_dataset("tiny", data_dir=root)


def test_missing_data_set_says_where_it_looked_and_how_to_fix(tiny_dataset, tmp_path):
    os.remove(tiny_dataset[0] / "tiny" / "train-images-idx3-ubyte.gz")
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("tiny", data_dir=tiny_dataset[0])
    message = str(info.value)
    assert "not found" in message and "--data-dir" in message and "AELAB_DATA_DIR" in message
    assert str(tiny_dataset[0] / "tiny") in message and "\n" not in message


def test_unknown_name_suggests_closest():
    with pytest.raises(ConfigError, match="did you mean 'fashion-mnist'"):
        get_spec("fashion-mnst")


def test_download_from_mirror_verifies_then_caches(tiny_dataset, tmp_path, monkeypatch):
    root, spec, _ = tiny_dataset
    mirror = root / "tiny"  # file:// URLs exercise the real download path without a network
    bad = tmp_path / "badmirror"
    bad.mkdir()
    for name in spec.sha256:  # a first mirror serving wrong bytes must be skipped, not cached
        write_idx(bad / f"{name}.gz", np.zeros(3, np.uint8))
    monkeypatch.setitem(
        REGISTRY, "tiny", type(spec)(**{**spec.__dict__, "mirrors": (bad.as_uri() + "/", mirror.as_uri() + "/")})
    )
    monkeypatch.setenv("AELAB_OFFLINE", "0")
    data = load_dataset("tiny", data_dir=tmp_path / "nowhere", progress=False)
    assert data.source.startswith("aelab cache (downloaded)")
    assert data.train_images.shape == (64, 784)


def test_download_failure_leaves_nothing(tiny_dataset, tmp_path, monkeypatch):
    root, spec, _ = tiny_dataset
    bad = tmp_path / "badmirror"
    bad.mkdir()
    for name in spec.sha256:
        write_idx(bad / f"{name}.gz", np.zeros(3, np.uint8))
    monkeypatch.setitem(REGISTRY, "tiny", type(spec)(**{**spec.__dict__, "mirrors": (bad.as_uri() + "/",)}))
    monkeypatch.setenv("AELAB_OFFLINE", "0")
    with pytest.raises(DatasetNotFoundError, match="SHA-256"):
        load_dataset("tiny", data_dir=tmp_path / "nowhere", progress=False)
    cache = cache_root() / "tiny"
    assert not cache.exists() or not any(cache.iterdir())


def test_keras_npz_is_accepted(monkeypatch, tmp_path, tiny_dataset):
    _, spec, arrays = tiny_dataset
    keras = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(keras))
    (keras / "datasets").mkdir(parents=True)
    np.savez(
        keras / "datasets" / "tiny.npz",
        x_train=arrays["train-images-idx3-ubyte"],
        y_train=arrays["train-labels-idx1-ubyte"],
        x_test=arrays["t10k-images-idx3-ubyte"],
        y_test=arrays["t10k-labels-idx1-ubyte"],
    )
    monkeypatch.setitem(REGISTRY, "tiny", type(spec)(**{**spec.__dict__, "keras_npz": "tiny.npz"}))
    data = load_dataset("tiny")
    assert data.source.startswith("Keras cache") and data.test_labels.shape == (16,)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_data_sets_load_and_verify(real_data_dir, name):
    data = load_dataset(name, data_dir=real_data_dir)
    assert data.train_images.shape == (60_000, 784) and data.test_images.shape == (10_000, 784)
    assert data.train_images.dtype == np.float32 and data.train_images.max() == 1.0 and data.train_images.min() == 0.0
    train_counts = np.bincount(data.train_labels, minlength=10)
    assert train_counts.sum() == 60_000 and len(train_counts) == 10 and train_counts.min() > 5_000
    if name == "fashion-mnist":  # Fashion-MNIST is exactly balanced
        assert set(train_counts) == {6_000} and set(np.bincount(data.test_labels)) == {1_000}
