"""Your own data in the Python API: aelab.open_dataset(PATH) → Autoencoder().fit(dataset); encode applies the
scaling recorded at training time; save and load keep it; a CLI run on a table loads into the API."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from custom_data_files import digits, signals, write_png_folder

import aelab
import aelab.errors
import aelab.studies
from aelab.cli import main
from aelab.data.custom import scaling
from aelab.errors import InputError


@pytest.fixture
def beats(tmp_path):
    x, labels = signals()
    path = tmp_path / "beats.csv"
    path.write_text("\n".join(",".join([*(f"{v:.6g}" for v in row), str(y)]) for row, y in zip(x, labels)) + "\n")
    return path, np.loadtxt(path, delimiter=",")[:, :-1]


def test_fit_a_table_encodes_raw_rows_with_the_training_scaling(beats, tmp_path):
    path, raw = beats
    data = aelab.open_dataset(path, label_column="50")
    ae = aelab.Autoencoder(code_size=6, epochs=2, batch_size=16).fit(data)
    assert (
        ae.config_.loss == "mse" and ae.config_.scale == "standard" and ae.data_record_["identity"]["kind"] == "table"
    )
    scaled = torch.from_numpy(scaling.apply(raw, ae.data_record_["scaling"], clip=False))
    np.testing.assert_array_equal(ae.encode(raw), ae.model_.encode(scaled).detach().numpy())
    assert ae.score(raw) == pytest.approx(-ae.evaluate(raw)["mse"]) and "bce" not in ae.evaluate(raw)
    recon = ae.reconstruct(raw[:3])  # in the table's own units: the recorded standardisation undone
    assert recon.shape == (3, 50) and abs(recon.mean() - raw.mean()) < 3 * raw.std()
    scaled_out = ae.model_.decode(ae.model_.encode(scaled[:3])).detach().numpy()
    np.testing.assert_allclose(recon, ae.description_.original_units(scaled_out), rtol=1e-6)
    with pytest.raises(InputError, match=r"expected rows of shape \(n, 50\)"):
        ae.encode(raw[:, :10])
    with pytest.raises(InputError, match="a Dataset brings its own test split"):
        aelab.Autoencoder(epochs=1).fit(data, X_test=raw)
    ae.save(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert saved["data"]["scaling"] == ae.data_record_["scaling"] and saved["config"]["loss"] == "mse"
    np.testing.assert_array_equal(aelab.load(tmp_path / "saved").encode(raw), ae.encode(raw))


def test_a_cli_run_on_images_loads_into_the_api_and_takes_uint8(tmp_path):
    images, labels = digits()
    folder = write_png_folder(tmp_path / "png", images[:300], labels[:300])
    assert (
        main(
            [
                "train",
                "--dataset",
                str(folder),
                "--epochs",
                "1",
                "--code-size",
                "5",
                "--quiet",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    ae = aelab.load(tmp_path / "run")
    assert ae.sample_shape_ == (1, 8, 8) and ae.encode(images[:4]).shape == (4, 5)
    assert ae.decode(ae.encode(images[:4])).shape == (4, 1, 8, 8)
    with pytest.raises(InputError, match="expected uint8 pixels"):
        ae.encode(images[:4] / 255.0)
    np.testing.assert_allclose(ae.encode(images[:4]), ae.encode(images[:4].reshape(4, 64)))


def test_fit_a_built_in_shaped_dataset_is_fit_on_its_arrays(tmp_path):
    images, labels = digits()
    np.savez(
        tmp_path / "d.npz", x_train=images[:200], y_train=labels[:200], x_test=images[200:260], y_test=labels[200:260]
    )
    data = aelab.open_dataset(tmp_path / "d.npz")
    ae = aelab.Autoencoder(code_size=4, epochs=1).fit(data)
    assert ae.config_.loss == "bce" and len(ae.history_) == 1 and "test_bce" in ae.final_


def test_a_study_file_names_your_own_data_by_path(tmp_path):
    images, labels = digits()
    np.savez(tmp_path / "digits.npz", x_train=images[:300], y_train=labels[:300])
    write_png_folder(tmp_path / "png", images[:300], labels[:300])
    study = tmp_path / "own.toml"
    study.write_text(
        'title = "own"\ndatasets = ["digits.npz", "png", "mnist"]\n\n[[steps]]\nname = "shallow"\nkind = "train"\n'
        'epochs = 1\ncode_size = [4, 8]\n'
    )
    out = tmp_path / "out"
    assert (
        main(["run", str(study), "--out", str(out), "--quiet", "--workers", "1", "--data-dir", str(tmp_path / "none")])
        == 0
    )
    for folder in ("digits.npz", "png"):
        for code in (4, 8):
            saved = json.loads((out / folder / "shallow" / f"code_size={code}" / "config.json").read_text())
            assert saved["data"]["identity"]["path"] == str(tmp_path / folder) and saved["config"]["code_size"] == code
    assert (out / "report.html").is_file()
    study.write_text('title = "own"\ndatasets = ["nowhere.npz"]\n\n[[steps]]\nname = "shallow"\nkind = "train"\n')
    with pytest.raises(
        aelab.errors.ConfigError, match=r"own\.toml:2: datasets: .*nowhere\.npz: no such file or folder"
    ):
        aelab.studies.load_study(study)


def test_a_study_refuses_own_data_options_on_a_built_in_data_set(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text(
        'title = "s"\ndatasets = ["mnist"]\n\n[[steps]]\nname = "shallow"\nkind = "train"\nscale = "minmax"\n'
    )
    with pytest.raises(
        aelab.errors.ConfigError, match=r"s\.toml:7: steps\[1\] scale: minmax: applies to --dataset PATH"
    ):
        aelab.studies.load_study(study)
