"""`aelab anomaly --dataset PATH` (issue 15 on issue 19's own data): scikit-learn's digits (8×8, labelled) through the
one-class protocol with the data's class names; an unlabelled .npy and a 1-D CSV scored, thresholded, their injected
anomalies ranked first; RGB images under a conv model; the study kind with a path; the API's score on MSE data;
bad input refused in one line with nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from custom_data_files import digits, rgb_images, write_png_folder

import aelab
from aelab.cli import main
from aelab.config import AnomalyConfig
from aelab.data.custom import open_dataset
from aelab.data.custom.new_samples import scaled_rows

FAST = ["--code-size", "8", "--batch-size", "16", "--neighbours", "3", "--engine", "autograd", "--quiet"]


def read(out, name: str) -> dict:
    return json.loads((out / name).read_text())


@pytest.fixture(scope="module")
def digit_npz(tmp_path_factory):
    images, labels = digits()
    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    np.savez(path, x_train=images, y_train=labels)
    return path


def test_labelled_digits_run_the_one_class_protocol_over_their_own_classes(digit_npz, tmp_path):
    out = tmp_path / "run"
    assert (
        main(["anomaly", "--dataset", str(digit_npz), "--classes", "0,1", "--epochs", "30", *FAST, "--out", str(out)])
        == 0
    )
    result, config = read(out, "anomaly.json"), read(out, "config.json")
    assert result["sample_shape"] == [1, 8, 8] and result["class_names"] == list("0123456789")
    split = config["data"]["split"]
    assert split["method"] == "fraction" and split["n_train"] + split["n_test"] == 1797
    labels = open_dataset(digit_npz, seed=0).train_labels
    for entry in result["classes"]:
        assert entry["n_train"] == int((labels == entry["class"]).sum())  # that class's training digits, and only those
        assert entry["mean"]["ae_sse"]["auroc"] > 0.85  # 8×8 digits: a 0 or a 1 is told from the other nine
        assert set(entry["mean"]) == {"ae_sse", "ae_bce", "pca", "knn_pixels", "knn_codes"}  # data in [0, 1]: BCE too
    assert config["config"]["loss"] == "bce" and config["config"]["scale"] == "none"  # uint8 / 255, recorded
    for name in ("histograms.png", "roc.png", "extremes.png", "summary.md", "finished.json"):
        assert (out / name).is_file(), name


def test_class_names_come_from_an_image_folders_subfolders_and_rgb_runs_a_conv_model(tmp_path):
    images, labels = rgb_images(n=90, size=12)
    folder = tmp_path / "squares"
    for c, name in enumerate(("red", "green", "blue")):
        write_png_folder(folder / name, images[labels == c], None)
    out = tmp_path / "run"
    assert (
        main(
            [
                "anomaly",
                "--dataset",
                str(folder),
                "--model",
                "conv",
                "--classes",
                "0",
                "--epochs",
                "3",
                "--batch-size",
                "8",
                "--neighbours",
                "3",
                "--engine",
                "autograd",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = read(out, "anomaly.json")
    assert result["class_names"] == ["blue", "green", "red"]  # the folders' names, in sorted order
    assert result["sample_shape"] == [3, 12, 12] and result["classes"][0]["name"] == "blue"
    assert (out / "extremes.png").is_file()


def unlabelled_digits(tmp_path, n_odd: int = 6):
    """Digits 0 as an unlabelled .npy, with `n_odd` all-white squares (the anomalies) among them."""
    images, labels = digits()
    zeros = images[labels == 0]
    odd = np.full((n_odd, 8, 8), 255, dtype=np.uint8)
    path = tmp_path / "zeros.npy"
    np.save(path, np.concatenate([zeros, odd]))
    return path


def test_an_unlabelled_npy_gets_scores_thresholds_and_its_anomalies_on_top_without_auroc(tmp_path):
    path = unlabelled_digits(tmp_path)
    out = tmp_path / "run"
    assert (
        main(["anomaly", "--dataset", str(path), "--epochs", "20", "--test-fraction", "0.5", *FAST, "--out", str(out)])
        == 0
    )
    result = read(out, "anomaly.json")
    test = open_dataset(path, test_fraction=0.5, seed=0).test_images
    odd = set(np.flatnonzero(test.min(axis=1) == 1.0).tolist())  # the white squares that landed in the test split
    assert odd and {row["index"] for row in result["top_anomalies"][: len(odd)]} == odd
    assert result["labelled"] is False and "classes" not in result and len(result["scores"]) == len(test)
    for rule, cut in result["thresholds"].items():
        assert result["flagged"][rule] == int((np.array(result["scores"]) > cut).sum())
    summary = (out / "summary.md").read_text()
    assert "No AUROC or AUPRC: the data has no labels" in summary
    assert "## The 8 most anomalous test samples" in summary
    assert (out / "extremes.png").is_file() and (out / "histograms.png").is_file() and not (out / "roc.png").exists()


def signal_table(tmp_path, seed: int) -> tuple:
    """200 noisy sines (amplitude 3: MSE data) as an unlabelled CSV, row 37 replaced by a spike: the injected
    anomaly."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 40)
    rows = 3 * np.sin(2 * np.pi * 2 * t + rng.uniform(0, 1, (200, 1))) + 0.05 * rng.standard_normal((200, 40))
    rows[37] = 0.0
    rows[37, 20] = 9.0
    path = tmp_path / "signals.csv"
    path.write_text(
        "\n".join([",".join(f"t{j}" for j in range(40))] + [",".join(f"{v:.5f}" for v in r) for r in rows]) + "\n"
    )
    return path, rows[37]


def spike_rows(path, seed: int) -> np.ndarray:
    """Indices in the test split (drawn with `seed`) of the spiked row, read unscaled."""
    return np.flatnonzero(open_dataset(path, scale="none", loss="mse", seed=seed).test_images.max(axis=1) > 8)


def test_a_1d_csv_trained_with_mse_ranks_its_injected_anomaly_first(tmp_path):
    path, _ = signal_table(tmp_path, 0)
    seed = next(s for s in range(50) if len(spike_rows(path, s)) == 1)  # a split that holds the spike out for testing
    out = tmp_path / "run"
    assert (
        main(["anomaly", "--dataset", str(path), "--seed", str(seed), "--epochs", "30", *FAST, "--out", str(out)]) == 0
    )
    result, config = read(out, "anomaly.json"), read(out, "config.json")
    assert result["top_anomalies"][0]["index"] == int(spike_rows(path, seed)[0])  # the spike, ranked first
    assert config["data"]["loss"] == "mse" and config["config"]["scale"] == "standard"  # a table: standardised, MSE
    assert result["sample_shape"] == [40] and (out / "extremes.png").is_file()


def test_the_bce_score_is_refused_for_mse_data_and_nothing_is_written(tmp_path, capsys):
    path, _ = signal_table(tmp_path, 1)
    assert main(["anomaly", "--dataset", str(path), "--score", "bce", *FAST, "--out", str(tmp_path / "r")]) == 2
    assert "--score bce" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_labelled_mse_data_reports_no_bce_method(digit_npz, tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "anomaly",
                "--dataset",
                str(digit_npz),
                "--classes",
                "1",
                "--epochs",
                "3",
                "--scale",
                "standard",
                "--loss",
                "mse",
                *FAST,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = read(out, "anomaly.json")
    assert list(result["methods"]) == ["ae_sse", "pca", "knn_pixels", "knn_codes"]
    assert result["classes"][0]["mean"]["ae_sse"]["auroc"] > 0.5


@pytest.mark.parametrize(
    "arrays, extra, message, exit_code",
    [
        (lambda x, y: dict(x_train=x, y_train=np.zeros_like(y)), [], "labels of one class only", 3),
        (
            lambda x, y: dict(
                x_train=np.concatenate([x[y != 9], x[y == 9][:1]]),
                x_test=x,
                y_train=np.concatenate([y[y != 9], y[y == 9][:1]]),
                y_test=y,
            ),
            [],
            "1 of class 9's training samples: expected at least 2",
            3,
        ),
        (
            lambda x, y: dict(x_train=x, y_train=y, x_test=x[y != 9], y_test=y[y != 9]),
            ["--classes", "9"],
            "class 9 has 0 of the 1617 test samples",
            3,
        ),
        (lambda x, y: dict(x_train=x), ["--classes", "0"], "has no labels: expected no --classes", 2),
        (lambda x, y: dict(x_train=x), ["--seeds", "2"], "expected --seeds 1", 2),
        (lambda x, y: dict(x_train=x), ["--train-size", "1"], "--train-size 1: expected at least 2", 2),
    ],
)
def test_bad_data_is_refused_in_one_line_before_anything_is_written(
    tmp_path, capsys, arrays, extra, message, exit_code
):
    x, y = digits()
    np.savez(tmp_path / "d.npz", **arrays(x, y))
    code = main(["anomaly", "--dataset", str(tmp_path / "d.npz"), *FAST, *extra, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == exit_code and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_a_model_that_does_not_fit_1d_samples_is_refused_before_anything_is_written(tmp_path, capsys):
    path, _ = signal_table(tmp_path, 2)
    assert main(["anomaly", "--dataset", str(path), "--model", "conv", *FAST, "--out", str(tmp_path / "r")]) != 0
    warning, error = capsys.readouterr().err.strip().splitlines()  # FAST's --code-size does nothing with conv
    assert warning.startswith("aelab: warning: --code-size 8 does nothing with --model conv")
    assert error.startswith("aelab: error:") and "conv" in error
    assert not (tmp_path / "r").exists()


def test_a_study_runs_its_anomaly_step_on_a_path(tmp_path):
    from aelab.studies import parse_study
    from aelab.studies.runner import run_study

    path = unlabelled_digits(tmp_path)
    study_file = tmp_path / "s.toml"
    study_file.write_text(
        f'title = "own anomalies"\ndatasets = ["{path}"]\n\n[[steps]]\nname = "scores"\nkind = "anomaly"\n'
        'code_size = 4\nepochs = 2\nbatch_size = 16\nneighbours = 2\nengine = "autograd"\n'
    )
    manifest = run_study(
        parse_study(study_file.read_text(), str(study_file)),
        tmp_path / "out",
        quiet=True,
        log=lambda m: None,
        workers=1,
    )
    assert [s["status"] for s in manifest["steps"]] == ["run"]
    assert read(tmp_path / "out" / "zeros.npy" / "scores", "anomaly.json")["labelled"] is False
    assert "No AUROC or AUPRC" in (tmp_path / "out" / "report.md").read_text()


def test_score_samples_of_a_model_trained_with_mse_is_the_squared_error_of_its_linear_output(tmp_path):
    path, _ = signal_table(tmp_path, 3)
    data = open_dataset(path)
    ae = aelab.Autoencoder(code_size=4, epochs=2, batch_size=16, engine="autograd").fit(data)
    raw = np.loadtxt(path, delimiter=",", skiprows=1)[:10]
    scaled = scaled_rows(raw, "X", ae.data_record_, ae.sample_shape_).numpy()
    outputs = scaled_rows(ae.reconstruct(raw), "X", ae.data_record_, ae.sample_shape_).numpy()  # back to the model's
    expected = ((outputs - scaled) ** 2).sum(axis=1)
    np.testing.assert_allclose(ae.score_samples(raw), expected, rtol=1e-4)


def test_own_data_options_are_refused_with_a_built_in_data_set_and_round_trip_with_a_path(
    tiny_dataset, tmp_path, capsys
):
    root, _, _ = tiny_dataset
    assert (
        main(
            ["anomaly", "--dataset", "tiny", "--data-dir", str(root), "--scale", "minmax", "--out", str(tmp_path / "r")]
        )
        == 2
    )
    assert "--scale minmax: applies to --dataset PATH" in capsys.readouterr().err and not (tmp_path / "r").exists()
    config = AnomalyConfig(dataset="./faces", image_size=(16, 16), scale="minmax", loss="mse", test_fraction=0.3)
    assert AnomalyConfig.from_json(config.to_json()) == config
    assert config.train_config(3).loss == "mse" and config.train_config(3).scale == "minmax"


def test_quick_runs_on_a_data_set_smaller_than_its_sizes_using_every_sample(digit_npz, tmp_path):
    out = tmp_path / "run"
    assert (
        main(["anomaly", "--dataset", str(digit_npz), "--quick", "--classes", "3", "--quiet", "--out", str(out)]) == 0
    )
    result = read(
        out, "anomaly.json"
    )  # --quick asks 1,000 training digits per class and 2,000 test digits: fewer exist
    labels = open_dataset(digit_npz, seed=0).train_labels
    assert result["classes"][0]["n_train"] == int((labels == 3).sum()) and result["n_test"] == 359
