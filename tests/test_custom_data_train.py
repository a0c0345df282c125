"""Training on your own data end to end (issue 19): digits as a PNG folder, .npz and CSV; generated RGB
images and 1-D signals; MNIST exported to PNG class folders landing on the loss of the same images as
IDX; config.json's identity; MSE on autograd with the reason recorded; bad input writes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from custom_data_files import digits, rgb_images, signals, write_digits_csv, write_png_folder
from PIL import Image

from aelab.cli import main
from aelab.data import load_dataset
from aelab.data.custom import open_dataset
from aelab.data.idx import write_idx
from aelab.models.dense import DenseAutoencoder
from aelab.objectives import MSEObjective
from aelab.train.engines import MSE_FALLBACK, make_step
from aelab.train.step import AutogradStep

SMALL = ["--epochs", "2", "--code-size", "8", "--batch-size", "16", "--quiet", "--n-images", "6"]


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    images, labels = digits()
    write_png_folder(root / "png", images, labels)
    np.savez(root / "digits.npz", x_train=images, y_train=labels)
    write_digits_csv(root / "digits.csv", images.reshape(len(images), -1) / 255.0 * 16, labels)
    return root


def config_of(out) -> dict:
    return json.loads((out / "config.json").read_text())


def test_digits_png_folder_trains_and_config_json_records_its_identity(tmp_path, digit_files):
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(digit_files / "png"), *SMALL, "--per-class", "--out", str(out)]) == 0
    data = config_of(out)["data"]
    assert data["identity"]["files"] == 1797 and data["identity"]["shape"] == [1797, 1, 8, 8]
    assert data["identity"]["kind"] == "images" and len(data["identity"]["sha256"]) == 64
    assert data["split"] == {"method": "fraction", "test_fraction": 0.2, "seed": 0, "n_train": 1438, "n_test": 359}
    assert data["class_names"] == list("0123456789") and data["loss"] == "bce"
    assert config_of(out)["engine"].get("fallback") != MSE_FALLBACK  # BCE keeps the configured engine
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final"]["test_bce"] < 0.69  # below the loss of predicting 0.5 everywhere: it learned
    assert (out / "reconstructions.png").is_file() and (out / "finished.json").is_file()
    assert (
        f"SHA-256 `{data['identity']['sha256']}`; 1438 training and 359 test samples"
        in (out / "summary.md").read_text()
    )


def test_the_same_digits_from_npz_and_png_folder_train_to_the_same_loss(tmp_path, digit_files):
    """The folder reads class by class; written in that order as .npz, training (same seed) gives identical numbers."""
    images, labels = digits()
    order = np.argsort(labels, kind="stable")
    np.savez(tmp_path / "ordered.npz", x_train=images[order], y_train=labels[order])
    losses = []
    for source in (digit_files / "png", tmp_path / "ordered.npz"):
        out = tmp_path / f"run-{source.name}"
        assert main(["train", "--dataset", str(source), *SMALL, "--out", str(out)]) == 0
        losses.append(json.loads((out / "metrics.json").read_text())["final"])
    assert losses[0]["test_bce"] == losses[1]["test_bce"] and losses[0]["train_loss"] == losses[1]["train_loss"]


def test_digits_csv_trains_with_mse_on_autograd_and_records_why(tmp_path, digit_files):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                str(digit_files / "digits.csv"),
                "--label-column",
                "digit",
                *SMALL,
                "--epochs",
                "6",
                "--learning-rate",
                "0.005",
                "--code-size",
                "16",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    saved = config_of(out)
    assert saved["config"]["loss"] == "mse" and saved["config"]["scale"] == "standard"
    assert saved["engine"]["engine"] == "autograd" and saved["engine"]["fallback"] == MSE_FALLBACK
    scaling = saved["data"]["scaling"]
    assert len(scaling["offset"]) == 64 and len(scaling["factor"]) == 64
    final = json.loads((out / "metrics.json").read_text())["final"]
    test = open_dataset(digit_files / "digits.csv", label_column="digit").test_images
    predicting_the_mean = float(np.mean(np.square(test)))  # standardised: the training mean is 0 in every feature
    assert final["test_mse"] < 0.8 * predicting_the_mean and "test_bce" not in final
    assert "test MSE" in (out / "summary.md").read_text()


def test_mse_step_is_autograd_with_the_reason(tmp_path):
    model = DenseAutoencoder(10, 3, (), torch.Generator().manual_seed(0))
    step = make_step("fused", model, MSEObjective(), 1e-3)
    assert isinstance(step, AutogradStep) and step.describe()["fallback"] == MSE_FALLBACK


def test_rgb_images_train_a_dense_model_and_figures_are_in_colour(tmp_path):
    images, labels = rgb_images()
    folder = write_png_folder(tmp_path / "rgb", images, labels)
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(folder), *SMALL, "--out", str(out)]) == 0
    assert config_of(out)["data"]["sample_shape"] == [3, 12, 12]
    picture = np.asarray(Image.open(out / "reconstructions.png").convert("RGB")).astype(int)
    assert (np.abs(picture[..., 0] - picture[..., 1]) > 60).any()  # coloured pixels, not a grey map


def test_signals_train_with_mse_and_are_drawn_as_lines(tmp_path):
    x, labels = signals()
    np.savez(tmp_path / "beats.npz", x_train=x[:100], y_train=labels[:100], x_test=x[100:], y_test=labels[100:])
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "beats.npz"), *SMALL, "--out", str(out)]) == 0
    saved = config_of(out)
    assert (
        saved["data"]["sample_shape"] == [50]
        and saved["config"]["loss"] == "mse"
        and saved["data"]["split"]["method"] == "given"
    )
    assert (out / "reconstructions.png").is_file() and (out / "weights.png").is_file()


def test_a_sweep_on_your_own_images(tmp_path, digit_files):
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "sweep",
                "--dataset",
                str(digit_files / "digits.npz"),
                "--code-sizes",
                "4,8",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert config_of(out)["data"]["identity"]["kind"] == "npz"
    assert (
        main(
            [
                "sweep",
                "--dataset",
                str(digit_files / "digits.csv"),
                "--code-sizes",
                "4",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(tmp_path / "no"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    "args, code, says",
    [
        (["--dataset", "{tmp}/nowhere"], 3, "no such file or folder"),
        (["--dataset", "{tmp}/bad.csv"], 3, "bad.csv:3:2"),
        (["--dataset", "{tmp}/ragged.csv"], 3, "ragged"),
        (["--dataset", "{tmp}/nan.npy"], 3, "1 NaN or infinite value"),
        (["--dataset", "mnist", "--scale", "minmax"], 2, "--scale minmax: applies to --dataset PATH"),
        (["--dataset", "{tmp}/nan.npy", "--label-column", "3"], 2, "--label-column: applies to a CSV/TSV table"),
        (["--dataset", "{tmp}/ragged.csv", "--test-fraction", "1.5"], 2, "--test-fraction 1.5"),
    ],
)
def test_bad_input_is_one_line_a_nonzero_exit_and_nothing_written(tmp_path, capsys, args, code, says):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,?\n")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    x = np.zeros((5, 3), np.float32)
    x[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    out = tmp_path / "run"
    assert main(["train", *[a.format(tmp=tmp_path) for a in args], "--quiet", "--out", str(out)]) == code
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_data_inspect_prints_what_aelab_sees(tmp_path, digit_files, capsys):
    assert main(["data", "inspect", str(digit_files / "png")]) == 0
    text = capsys.readouterr().out
    assert "samples: 1797, each of shape (1, 8, 8), dtype uint8, values in [0, 255]" in text
    assert "classes: 10: 0 (" in text and "sha256: " in text and "1438 train, 359 test" in text
    assert main(["data", "inspect", str(tmp_path / "nothing")]) == 3


@pytest.mark.real_data
def test_mnist_exported_to_png_class_folders_lands_on_the_idx_loss(tmp_path, real_data_dir):
    """600 training and 200 test images of MNIST as PNG class folders, and the same images (in the folder's
    order) as IDX files: the same seed trains both to the same loss, bit for bit."""
    mnist = load_dataset("mnist", real_data_dir, progress=False)
    splits = {}
    for split, images, labels, n in (
        ("train", mnist.train_images, mnist.train_labels, 600),
        ("test", mnist.test_images, mnist.test_labels, 200),
    ):
        pixels = np.round(images[:n] * 255).astype(np.uint8).reshape(n, 28, 28)
        write_png_folder(tmp_path / "png" / split, pixels, labels[:n])
        order = np.argsort(labels[:n], kind="stable")
        splits[split] = (pixels[order], labels[:n][order].astype(np.uint8))
    write_idx(tmp_path / "idx" / "train-images-idx3-ubyte.gz", splits["train"][0])
    write_idx(tmp_path / "idx" / "train-labels-idx1-ubyte.gz", splits["train"][1])
    write_idx(tmp_path / "idx" / "t10k-images-idx3-ubyte.gz", splits["test"][0])
    write_idx(tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz", splits["test"][1])
    finals = []
    for source in ("png", "idx"):
        out = tmp_path / f"run-{source}"
        assert (
            main(
                [
                    "train",
                    "--dataset",
                    str(tmp_path / source),
                    "--model",
                    "deep",
                    "--epochs",
                    "2",
                    "--seed",
                    "3",
                    "--quiet",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        finals.append(json.loads((out / "metrics.json").read_text())["final"])
        assert config_of(out)["data"]["split"] == {"method": "given", "n_train": 600, "n_test": 200}
    assert finals[0] == finals[1]
    assert finals[0]["test_bce"] < 0.3
