"""The Python API on real MNIST (small subsets): fit, encode/decode, score, save/load, and sameness with
`aelab train`."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from shared_runs import PROMISED
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import aelab
from aelab.config import TrainConfig
from aelab.errors import CheckpointError, ConfigError, OutputError
from aelab.runs.folder import is_finished
from aelab.tasks.recipe import seeded_generators, select
from aelab.tasks.train import train_run
from aelab.train.checkpoint import read_weights

N_TRAIN, N_TEST = 2_000, 200


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """MNIST as loaded by aelab (read-only arrays), with the conftest's isolation: no cache, no network."""
    from shared_runs import REAL_DATA_DIR

    if not REAL_DATA_DIR:
        pytest.skip("AELAB_DATA_DIR is not set (make test and .ci/run set it)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("AELAB_OFFLINE", "1")
        return aelab.load_dataset("mnist", REAL_DATA_DIR, progress=False)


@pytest.fixture(scope="module")
def fitted(mnist):
    """A shallow autoencoder fitted for three epochs on 2,000 MNIST images (~190 steps)."""
    return aelab.Autoencoder(code_size=16, epochs=3).fit(
        mnist.train_images[:N_TRAIN], X_test=mnist.test_images[:N_TEST]
    )


def test_fit_sets_the_fitted_attributes_and_learns(fitted, mnist):
    assert fitted.config_.epochs == 3 and fitted.config_.model == "shallow" and fitted.n_features_in_ == 784
    assert [e["epoch"] for e in fitted.history_] == [1, 2, 3]
    assert fitted.final_["test_bce"] > fitted.final_["test_bce_floor"] > 0
    losses = [e["test_loss"] for e in fitted.history_]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.3  # untrained (outputs ≈ 0.5): ln 2 ≈ 0.69
    assert not hasattr(aelab.Autoencoder(), "model_")


def test_encode_returns_numpy_without_gradients_in_every_input_form(fitted, mnist):
    flat = mnist.test_images[:50]
    codes = fitted.encode(flat)
    assert isinstance(codes, np.ndarray) and codes.dtype == np.float32 and codes.shape == (50, 16) and codes.min() >= 0
    np.testing.assert_array_equal(fitted.transform(flat), codes)
    np.testing.assert_array_equal(fitted.encode(flat.reshape(50, 28, 28)), codes)
    np.testing.assert_array_equal(fitted.encode(torch.from_numpy(flat.copy()).requires_grad_()), codes)
    uint8 = np.rint(flat * 255).astype(np.uint8)  # the data set's own bytes: x = byte / 255 exactly
    np.testing.assert_array_equal(fitted.encode(uint8), codes)
    np.testing.assert_allclose(fitted.encode(flat.astype(np.float64)), codes)


def test_decode_and_reconstruct_agree_with_the_model(fitted, mnist):
    images = mnist.test_images[:20].reshape(20, 28, 28)
    recon = fitted.reconstruct(images)
    assert recon.shape == (20, 28, 28) and recon.dtype == np.float32 and 0 <= recon.min() and recon.max() <= 1
    decoded = fitted.decode(fitted.encode(images))
    assert decoded.shape == (20, 784)  # decode gives fit's layout: fit had (n, 784)
    np.testing.assert_allclose(decoded.reshape(20, 28, 28), recon, atol=1e-6)
    np.testing.assert_array_equal(fitted.inverse_transform(fitted.encode(images)), decoded)
    with torch.no_grad():
        expected = fitted.model_.reconstruct(torch.from_numpy(mnist.test_images[:20].copy()))
    np.testing.assert_allclose(recon.reshape(20, 784), expected.numpy(), atol=1e-6)


def test_score_is_minus_bce_and_evaluate_has_the_entropy_floor(fitted, mnist):
    x = mnist.test_images[:N_TEST]
    metrics = fitted.evaluate(x)
    assert fitted.score(x) == pytest.approx(-metrics["bce"])
    assert metrics["bce"] == pytest.approx(fitted.final_["test_bce"])  # fit's X_test was the same images
    assert metrics["bce_excess"] == pytest.approx(metrics["bce"] - metrics["bce_floor"])
    assert metrics["psnr_db"] == pytest.approx(10 * np.log10(1 / metrics["mse"]))
    mean_image = np.broadcast_to(x.mean(axis=0), x.shape)  # a model must beat predicting the mean image
    assert metrics["mse"] < np.mean((x - mean_image) ** 2)


def test_fit_is_bit_identical_to_aelab_train_and_load_reads_its_folder(mnist, tmp_path):
    from shared_runs import REAL_DATA_DIR

    config = TrainConfig(
        model="deep", dataset="mnist", code_size=8, epochs=1, train_size=N_TRAIN, test_size=N_TEST, seed=3
    )
    train_run(config, tmp_path / "cli", data_dir=REAL_DATA_DIR, quiet=True, log=lambda message: None)
    train_x, test_x, _ = select(
        mnist, config, seeded_generators(config.seed)["subset"]
    )  # the images the CLI trained on
    api = aelab.Autoencoder(model="deep", code_size=8, epochs=1, seed=3).fit(train_x, X_test=test_x)
    cli_weights, _ = read_weights(tmp_path / "cli" / "model.safetensors")
    for name, tensor in api.model_.state_dict().items():
        assert torch.equal(tensor, cli_weights[name]), name
    loaded = aelab.load(tmp_path / "cli")  # no resolve(), no get_family, no load_weights by hand
    np.testing.assert_array_equal(loaded.encode(test_x), api.encode(test_x))
    assert loaded.get_params() == api.get_params()  # what the run asked for; its family's defaults resolve again
    assert loaded.final_ == json.loads((tmp_path / "cli" / "metrics.json").read_text())["final"]


def test_save_writes_an_ordinary_run_folder_that_load_reads_back(fitted, mnist, tmp_path):
    out = fitted.save(tmp_path / "saved")
    assert sorted(p.name for p in out.iterdir()) == sorted([*PROMISED, "test_samples.npy"])  # arrays: some kept
    assert np.load(out / "test_samples.npy").shape[1] == 784
    run_config = json.loads((out / "config.json").read_text())
    assert TrainConfig.from_json(run_config["config"]) == fitted.config_
    assert "arrays given to Autoencoder.fit" in run_config["data_source"]
    assert json.loads((out / "metrics.json").read_text())["final"] == pytest.approx(fitted.final_)
    loaded = aelab.load(out)
    x = mnist.test_images[:30]
    np.testing.assert_array_equal(loaded.encode(x), fitted.encode(x))
    assert loaded.history_ == fitted.history_
    with pytest.raises(ConfigError, match="loaded without its test images"):
        loaded.save(tmp_path / "again")


def test_save_keeps_the_run_folder_contract(fitted, tmp_path):
    """A saved run is not silently replaced (`force` replaces it), and a folder another process holds is refused."""
    out = fitted.save(tmp_path / "saved")
    (out / "marker").write_text("the first save")
    with pytest.raises(OutputError, match="holds a finished run: pass --force"):
        fitted.save(out)
    assert (out / "marker").is_file() and is_finished(out)
    fitted.save(out, force=True)
    assert is_finished(out) and not (out / "aelab.lock").exists()


def test_a_denoising_model_fits_and_saves_its_noisy_inputs(mnist, tmp_path):
    ae = aelab.Autoencoder(model="denoising", code_size=8, hidden_sizes=[32], epochs=1)
    ae.fit(mnist.train_images[:200], X_test=mnist.test_images[:50])
    assert ae.config_.noise == "gaussian" and ae.config_.hidden_sizes == (32,)
    assert "clean_test_bce" in ae.final_  # scored on noisy and on clean inputs, as `aelab train` does
    assert (ae.save(tmp_path / "d") / "finished.json").is_file()


def test_load_refuses_what_is_not_a_finished_training_run(fitted, tmp_path):
    with pytest.raises(CheckpointError, match="no such folder"):
        aelab.load(tmp_path / "missing")
    out = fitted.save(tmp_path / "run")
    run_config = json.loads((out / "config.json").read_text())
    run_config["config"]["code_size"] = 8  # config.json no longer describes the weights beside it
    (out / "config.json").write_text(json.dumps(run_config))
    with pytest.raises(CheckpointError, match=r"saved for another configuration: code_size=16 \(asked for 8\)"):
        aelab.load(out)
    (out / "finished.json").unlink()
    with pytest.raises(CheckpointError, match="not a finished run"):
        aelab.load(out)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}")
    with pytest.raises(CheckpointError, match="a sweep's folder"):
        aelab.load(sweep)


def test_clone_get_set_params_and_pickle(fitted, mnist):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "model_")
    copy.set_params(code_size=4, hidden_sizes=[64, 32], model="deep")
    assert copy.code_size == 4 and copy.get_params()["hidden_sizes"] == [64, 32]
    with pytest.raises(ConfigError, match=r"did you mean 'shallow'"):
        copy.set_params(model="shalow", code_size=2)
    assert copy.model == "deep" and copy.code_size == 4  # a refused set_params changes nothing
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.encode(mnist.test_images[:10]), fitted.encode(mnist.test_images[:10]))


def test_fit_is_deterministic_given_the_seed(mnist):
    x = mnist.train_images[:200]
    first = aelab.Autoencoder(code_size=4, epochs=1, seed=7).fit(x)
    second = clone(first).fit(x)
    np.testing.assert_array_equal(first.encode(x), second.encode(x))
    other = clone(first).set_params(seed=8).fit(x)
    assert not np.array_equal(first.encode(x), other.encode(x))


def test_pipeline_autoencoder_then_logistic_regression(mnist):
    n = 2_000
    pipeline = make_pipeline(aelab.Autoencoder(code_size=32, epochs=2), LogisticRegression(max_iter=1_000))
    pipeline.fit(mnist.train_images[:n], mnist.train_labels[:n])
    accuracy = pipeline.score(mnist.test_images[:1_000], mnist.test_labels[:1_000])
    assert accuracy > 0.7  # chance is 0.1: the codes carry the digit's identity
    assert list(pipeline[:-1].get_feature_names_out())[:2] == ["autoencoder0", "autoencoder1"]


def test_bad_settings_are_refused_when_the_object_is_made():
    with pytest.raises(ConfigError, match=r"unknown model 'shalow' \(did you mean 'shallow'\?\)"):
        aelab.Autoencoder(model="shalow")
    with pytest.raises(ConfigError, match=r"unknown Autoencoder setting 'code_sise' \(did you mean 'code_size'\?\)"):
        aelab.Autoencoder(code_sise=8)
    with pytest.raises(ConfigError, match=r"--learning-rate -0.001"):
        aelab.Autoencoder(learning_rate=-1e-3)
    with pytest.raises(ConfigError, match="unknown model 'shalow'"):
        TrainConfig(model="shalow")


def test_loaded_data_sets_are_read_only(mnist):
    for array in (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


def test_import_aelab_is_light_and_exposes_the_api():
    code = (
        "import sys, aelab; light = not {'torch', 'sklearn'} & set(sys.modules); "
        "print(light, aelab.Autoencoder.__module__, aelab.load.__module__, sorted(aelab.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:3] == ["True", "aelab.api", "aelab.api"]
    assert "Parameters" in aelab.Autoencoder.__doc__ and "code_size" in aelab.Autoencoder.__doc__


def test_the_config_knows_every_model_family():
    from aelab.config import MODEL_NAMES
    from aelab.models.registry import MODELS

    assert tuple(MODELS) == MODEL_NAMES  # config.py checks names without importing the models (imports run one way)
