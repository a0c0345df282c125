"""The conv families on your own data: the model is built for the data's (C, H, W), colour included; data
a conv model cannot take is refused in one line before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from custom_data_files import rgb_images, signals, write_png_folder
from PIL import Image

import aelab
from aelab.cli import main
from aelab.errors import AelabError

SMALL = ["--epochs", "2", "--batch-size", "16", "--quiet", "--n-images", "6"]


@pytest.mark.parametrize("model", ["conv", "conv-vae"])
def test_an_rgb_32x32_folder_trains_a_conv_model_in_colour(tmp_path, model):
    images, labels = rgb_images(n=48, size=32)
    folder = write_png_folder(tmp_path / "rgb", images, labels)
    out = tmp_path / "run"
    extra = ["--code-size", "2"] if model == "conv-vae" else []
    assert main(["train", "--model", model, "--dataset", str(folder), *SMALL, *extra, "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["data"]["sample_shape"] == [3, 32, 32]
    run = aelab.load(out)
    first = run.model_.first_layer_weights()
    assert tuple(first.shape[1:]) == (3, 3, 3)  # 3×3 kernels over the three colour channels
    assert run.reconstruct(images[:5].transpose(0, 3, 1, 2)).shape == (
        5,
        3,
        32,
        32,
    )  # uint8 (C, H, W) in, the same shape out
    picture = np.asarray(Image.open(out / "reconstructions.png").convert("RGB")).astype(int)
    assert (np.abs(picture[..., 0] - picture[..., 1]) > 60).any()  # drawn in colour
    assert (out / "filters.png").is_file()


def test_a_conv_model_refuses_one_dimensional_samples_and_writes_nothing(tmp_path, capsys):
    x, labels = signals()
    np.savez(tmp_path / "beats.npz", x_train=x[:100], y_train=labels[:100], x_test=x[100:], y_test=labels[100:])
    out = tmp_path / "run"
    code = main(["train", "--model", "conv", "--dataset", str(tmp_path / "beats.npz"), *SMALL, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "conv" in err[0], err
    assert not out.exists()


def test_a_one_channel_conv_model_refuses_rgb_images(tmp_path):
    grey = np.random.default_rng(0).random((32, 28, 28), dtype=np.float32)
    model = aelab.Autoencoder(model="conv", epochs=1, batch_size=16).fit(grey)
    colour = np.random.default_rng(1).random((4, 3, 28, 28), dtype=np.float32)
    with pytest.raises(AelabError) as info:
        model.encode(colour)
    assert "\n" not in str(info.value) and "(4, 3, 28, 28)" in str(info.value) and "(n, 28, 28)" in str(info.value)


def test_a_vae_refuses_data_that_trains_with_mse_and_writes_nothing(tmp_path, capsys):
    x, labels = signals()  # values around ±3: standardised, trained with MSE
    np.savez(tmp_path / "beats.npz", x_train=x[:100], y_train=labels[:100], x_test=x[100:], y_test=labels[100:])
    out = tmp_path / "run"
    code = main(["train", "--model", "vae", "--dataset", str(tmp_path / "beats.npz"), *SMALL, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--loss mse" in err[0] and "[0, 1]" in err[0], err
    assert not out.exists()
