"""The Python API on any data (issue 26): tables, DataFrames, RGB arrays either layout, paths; samples back in the
caller's shape, layout and units; validation, early stopping, callbacks; NotFittedError before fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import NotFittedError

import aelab
from aelab.errors import ConfigError

pd = pytest.importorskip("pandas")
QUIET = {"verbose": 0, "epochs": 2, "code_size": 4, "batch_size": 16}


@pytest.fixture(scope="module")
def cancer():
    """(569, 30) floats in their own units (areas in the hundreds, smoothness in hundredths): not pixels."""
    return load_breast_cancer().data


def test_a_table_of_large_values_is_standardised_and_given_back_in_its_units(cancer):
    ae = aelab.Autoencoder(**QUIET).fit(cancer)
    assert ae.config_.scale == "standard" and ae.config_.loss == "mse" and ae.description_.kind == "signal"
    assert ae.n_features_in_ == 30 and ae.sample_shape_ == (30,)
    recon = ae.reconstruct(cancer[:50])
    assert recon.shape == (50, 30) and recon.dtype == np.float32
    low, high = cancer.min(axis=0), cancer.max(axis=0)
    spread = high - low
    inside = (recon >= low - spread) & (recon <= high + spread)  # the data's range, not standard units
    assert inside.mean() > 0.95 and recon[:, 3].mean() > 100  # column 3 (mean area) is in the hundreds
    assert ae.decode(ae.encode(cancer[:5])).shape == (5, 30)
    assert ae.history_[-1]["test_loss"] is not None and "test_mse" in ae.final_


def test_a_dataframe_with_a_label_column(cancer):
    data = load_breast_cancer()
    frame = pd.DataFrame(cancer, columns=list(data.feature_names))
    frame["diagnosis"] = np.where(data.target == 1, "benign", "malignant")
    ae = aelab.Autoencoder(label_column="diagnosis", **QUIET).fit(frame)
    assert ae.description_.kind == "table" and ae.description_.columns == tuple(data.feature_names)
    assert ae.description_.class_names == ("benign", "malignant") and list(ae.feature_names_in_) == list(
        data.feature_names
    )
    recon = ae.reconstruct(frame.iloc[:7])  # the label column is left out; the features come back by name
    assert isinstance(recon, pd.DataFrame) and list(recon.columns) == list(data.feature_names)
    assert list(recon.index) == list(frame.index[:7])
    np.testing.assert_array_equal(ae.encode(frame.iloc[:7]), ae.encode(cancer[:7]))
    with pytest.raises(aelab.errors.InputError, match=r"^X: column 'diagnosis' of dtype"):
        aelab.Autoencoder(**QUIET).fit(frame)  # a text column is not silently dropped


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_rgb_uint8_arrays_round_trip_their_layout_and_units(layout, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 3, 16, 16), dtype=np.uint8)
    x = images if layout == "channels_first" else np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    ae = aelab.Autoencoder(model="conv", **QUIET).fit(x)
    assert ae.description_.sample_shape == (3, 16, 16) and ae.config_.loss == "bce" and ae.sample_shape_ == x.shape[1:]
    recon = ae.reconstruct(x[:4])
    assert recon.shape == x[:4].shape and recon.dtype == np.float32
    assert 1 < recon.max() <= 255 and recon.min() >= 0  # pixels in 0–255, as given
    other = images[:4] if layout == "channels_last" else x[:4].transpose(0, 2, 3, 1)  # the other layout is taken too
    np.testing.assert_array_equal(ae.encode(other), ae.encode(x[:4]))
    assert ae.decode(ae.encode(x[:2])).shape == (2, *x.shape[1:])
    out = ae.save(tmp_path / "rgb")
    assert (out / "finished.json").is_file() and any(p.suffix == ".png" for p in out.iterdir())
    saved = json.loads((out / "config.json").read_text())
    assert saved["description"]["kind"] == "image" and saved["description"]["sample_shape"] == [3, 16, 16]
    np.testing.assert_array_equal(aelab.load(out).encode(x[:4]), ae.encode(x[:4]))


def test_grey_images_come_back_without_a_channel_axis():
    images = np.random.default_rng(1).random((40, 12, 12), dtype=np.float32)
    ae = aelab.Autoencoder(**QUIET).fit(images)
    recon = ae.reconstruct(images[:3])
    assert recon.shape == (3, 12, 12) and 0 <= recon.min() and recon.max() <= 1


def test_a_path_is_read_as_aelab_train_reads_it(cancer, tmp_path):
    path = tmp_path / "cancer.csv"
    np.savetxt(path, cancer, delimiter=",", fmt="%.6g")
    ae = aelab.Autoencoder(**QUIET).fit(str(path))
    assert ae.config_.dataset == str(path.resolve()) and ae.data_record_["split"]["method"] == "fraction"
    assert ae.description_.kind == "table" and ae.reconstruct(cancer[:3]).shape == (3, 30)
    with pytest.raises(aelab.errors.InputError, match="brings its own test split"):
        aelab.Autoencoder(**QUIET).fit(path, X_test=cancer)
    with pytest.raises(aelab.errors.DataError, match="no such file or folder"):
        aelab.Autoencoder(**QUIET).fit(tmp_path / "missing.csv")
    with pytest.raises(
        aelab.errors.DataError, match=r"built-in data set, opened by aelab\.load_dataset\('fashion-mnist'\)"
    ):
        aelab.open_dataset("fashion-mnist")  # a name where a path is read: a first hour's guess


def test_validation_fraction_holds_out_a_seeded_part_and_zero_means_none(cancer, tmp_path):
    ae = aelab.Autoencoder(**QUIET).fit(cancer)
    assert ae.data_record_["split"]["n_test"] == round(0.1 * len(cancer))
    none = aelab.Autoencoder(validation_fraction=0, **QUIET).fit(cancer)
    assert all(e["test_loss"] is None for e in none.history_)
    assert not any(key.startswith("test_") for key in none.final_)  # no training loss passed off as a test loss
    with pytest.raises(ConfigError, match="fitted without validation data"):
        none.save(tmp_path / "none")
    with pytest.raises(ConfigError, match=r"^validation_fraction 1.5: expected a number in \[0, 1\)$"):
        aelab.Autoencoder(validation_fraction=1.5)


def test_early_stopping_restores_the_best_epoch(cancer):
    ae = aelab.Autoencoder(early_stopping_patience=1, learning_rate=0.3, **{**QUIET, "epochs": 8}).fit(cancer)
    losses = [e["test_loss"] for e in ae.history_]
    best = int(np.argmin(losses)) + 1
    assert ae.best_epoch_ == best
    assert ae.final_["test_mse"] == pytest.approx(min(losses), rel=1e-5)  # the restored weights: the best epoch's
    if ae.stopped_epoch_ is not None:  # stopped: the epoch after which the patience ran out
        assert ae.stopped_epoch_ == len(losses) == best + 1
    with pytest.raises(ConfigError, match="needs a validation loss"):
        aelab.Autoencoder(early_stopping_patience=2, validation_fraction=0, **QUIET).fit(cancer)


def test_callbacks_see_every_epoch_and_can_stop(cancer):
    seen = []

    def stop_after_two(record: dict) -> bool:
        seen.append(record)
        return record["epoch"] == 2

    ae = aelab.Autoencoder(callbacks=[stop_after_two], **{**QUIET, "epochs": 5}).fit(cancer)
    assert [r["epoch"] for r in seen] == [1, 2] and len(ae.history_) == 2 and ae.stopped_epoch_ == 2
    assert set(seen[0]) >= {"epoch", "train_loss", "test_loss", "seconds"}

    def fails(record: dict) -> None:
        raise RuntimeError("stop here")

    failing = aelab.Autoencoder(callbacks=[fails], **QUIET)
    with pytest.raises(RuntimeError, match="stop here"):
        failing.fit(cancer)
    assert not hasattr(failing, "model_")
    with pytest.raises(ConfigError, match="callbacks"):
        aelab.Autoencoder(callbacks=["not callable"])


def test_verbose_prints_one_line_per_epoch(cancer, capsys):
    aelab.Autoencoder(**{**QUIET, "verbose": 2}).fit(cancer)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  train ") and "validation" in lines[0]
    aelab.Autoencoder(**QUIET).fit(cancer)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("method", ["encode", "transform", "reconstruct", "score_samples", "evaluate", "score"])
def test_every_method_before_fit_raises_not_fitted(method):
    with pytest.raises(NotFittedError):
        getattr(aelab.Autoencoder(), method)(np.zeros((2, 30)))


def test_open_dataset_takes_arrays_with_labels(cancer):
    data = aelab.open_dataset(cancer, y=load_breast_cancer().target, test_fraction=0.25, seed=1)
    assert data.train_images.shape[1] == 30 and len(data.test_images) == round(0.25 * len(cancer))
    assert data.loss == "mse" and data.record["scaling"]["method"] == "standard" and data.class_names == ("0", "1")
    ae = aelab.Autoencoder(**QUIET).fit(data)
    assert ae.config_.dataset == "arrays"
