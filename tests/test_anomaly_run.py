"""`aelab anomaly` end to end: the run folder on a tiny data set, the unlabelled path, the API's score_samples,
the CLI's errors, the study step kind; and on real MNIST, a one-class model well above chance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aelab
from aelab.cli import main
from aelab.config import AnomalyConfig
from aelab.studies import parse_study
from aelab.studies.plan import plan_study
from aelab.tasks.anomaly.one_class import METHODS, score_unlabelled
from aelab.tasks.anomaly.run import run_anomaly
from aelab.tasks.anomaly.scores import knn_scores, pca_scores, reconstruction_scores
from aelab.tasks.pca import PCA

TINY = dict(dataset="tiny", classes=(0, 1), code_size=4, epochs=1, batch_size=2, neighbours=2, engine="autograd")


def blobs(seed: int, n: int, bright: bool) -> torch.Tensor:
    """Synthetic images: dark ones with a faint left half, or anomalies lit on the right half."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, 784)).astype(np.float32) * 0.1
    images.reshape(n, 28, 28)[:, :, (14 if bright else 0) : (28 if bright else 14)] += 0.8
    return torch.from_numpy(np.clip(images, 0, 1))


def test_the_run_folder_holds_every_method_per_class_and_the_figures(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    result = run_anomaly(
        AnomalyConfig(**TINY, seeds=2), tmp_path / "run", data_dir=root, quiet=True, log=lambda m: None
    )
    folder = tmp_path / "run"
    for name in (
        "config.json",
        "anomaly.json",
        "histograms.png",
        "roc.png",
        "extremes.png",
        "summary.md",
        "finished.json",
    ):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "anomaly.json").read_text()) == json.loads(json.dumps(result))
    assert [e["class"] for e in result["classes"]] == [0, 1]
    for entry in result["classes"]:
        assert [r["seed"] for r in entry["runs"]] == [0, 1]
        for method in METHODS:
            values = [r["ranking"][method]["auroc"] for r in entry["runs"]]
            assert entry["mean"][method]["auroc"] == pytest.approx(np.mean(values))
            assert entry["std"][method]["auroc"] == pytest.approx(np.std(values, ddof=1))
    summary = (folder / "summary.md").read_text()
    assert "| 0 " in summary and "| 1 " in summary and "Published references" in summary


def test_an_unknown_class_is_refused_before_anything_is_written(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    code = main(
        ["anomaly", "--dataset", "tiny", "--data-dir", str(root), "--classes", "12", "--out", str(tmp_path / "r")]
    )
    assert code == 2 and not (tmp_path / "r").exists()


def test_a_finished_run_is_replaced_only_with_force(tiny_dataset, tmp_path, capsys):
    root, _, _ = tiny_dataset
    args = [
        "anomaly",
        "--dataset",
        "tiny",
        "--data-dir",
        str(root),
        "--classes",
        "0",
        "--code-size",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--neighbours",
        "2",
        "--out",
        str(tmp_path / "r"),
        "--quiet",
    ]
    assert main(args) == 0
    before = (tmp_path / "r" / "anomaly.json").read_bytes()
    assert main(args) == 6  # OutputError: a finished run is there
    assert (tmp_path / "r" / "anomaly.json").read_bytes() == before
    assert main(args + ["--force"]) == 0


def test_unlabelled_data_gets_scores_thresholds_and_top_anomalies():
    normal, odd = blobs(0, 200, bright=False), blobs(1, 5, bright=True)
    images = torch.cat([blobs(2, 45, bright=False), odd])  # the last 5 are the anomalies, but nothing says so
    config = AnomalyConfig(code_size=8, epochs=5, batch_size=16, neighbours=3, engine="autograd")
    result = score_unlabelled(config, normal, images)
    assert result["scores"].shape == (50,) and "ranking" not in result
    assert set(result["most_anomalous"][:5]) == set(range(45, 50))  # the odd images score highest
    assert set(result["thresholds"]) == {"quantile 0.95", "mean + 1 sd"}
    for rule, cut in result["thresholds"].items():
        assert result["flagged"][rule] == int((result["scores"] > cut).sum())


def test_score_samples_is_the_per_image_squared_error_higher_for_anomalies():
    normal, odd = blobs(0, 256, bright=False), blobs(1, 20, bright=True)
    ae = aelab.Autoencoder(code_size=8, epochs=3, batch_size=32).fit(normal.numpy())
    scores = ae.score_samples(np.concatenate([normal[:20].numpy(), odd.numpy()]))
    expected = ((ae.reconstruct(odd.numpy()) - odd.numpy()) ** 2).sum(axis=1)
    np.testing.assert_allclose(scores[20:], expected, rtol=1e-5)
    assert scores[20:].min() > scores[:20].max()  # higher = more anomalous


def test_baseline_scores_follow_their_definitions():
    rng = np.random.default_rng(0)
    train, test = rng.random((50, 20)), rng.random((7, 20))
    pca = PCA(5).fit(train)
    direct = ((test - pca.reconstruct(test, 5)) ** 2).sum(axis=1)
    np.testing.assert_allclose(pca_scores(pca, test, 5), direct, rtol=1e-9)
    distances = np.sqrt(((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_allclose(knn_scores(train, test, 3), np.sort(distances, axis=1)[:, :3].mean(axis=1), rtol=1e-9)
    model = torch.nn.Linear(4, 4)  # a stand-in with the (logits, code) contract
    wrapped = type("M", (torch.nn.Module,), {"forward": lambda self, x: (model(x), x)})()
    x = torch.rand(6, 4)
    scores = reconstruction_scores(wrapped, x)
    np.testing.assert_allclose(scores["sse"], ((x - torch.sigmoid(model(x))) ** 2).sum(1).detach().numpy(), rtol=1e-5)


def test_a_study_may_hold_an_anomaly_step(tmp_path):
    study_file = tmp_path / "s.toml"
    study_file.write_text(
        'title = "t"\ndatasets = ["mnist", "fashion-mnist"]\n\n[[steps]]\nname = "oneclass"\n'
        'kind = "anomaly"\nclasses = [0, 3]\nepochs = 2\n'
    )
    steps = plan_study(parse_study(study_file.read_text(), str(study_file)), quick=False)
    assert [(s.name, s.kind) for s in steps] == [("mnist/oneclass", "anomaly"), ("fashion-mnist/oneclass", "anomaly")]
    assert steps[0].config == AnomalyConfig(dataset="mnist", classes=(0, 3), epochs=2)


@pytest.mark.slow
def test_a_one_class_model_on_real_mnist_ranks_anomalies_well_above_chance(real_data_dir, tmp_path):
    config = AnomalyConfig(classes=(1,), epochs=3, test_size=3000)
    result = run_anomaly(config, tmp_path / "run", data_dir=real_data_dir, quiet=True, log=lambda m: None)
    entry = result["classes"][0]
    labels = aelab.load_dataset("mnist", real_data_dir, progress=False).train_labels
    assert entry["n_train"] == int((labels == 1).sum())  # every training image of digit 1, and only those
    assert entry["mean"]["ae_sse"]["auroc"] > 0.9
    assert entry["mean"]["ae_sse"]["auprc"] > 0.95  # chance is the share of anomalies, ~0.89


def test_a_study_with_an_anomaly_step_runs_it_and_reports_it(tiny_dataset, tmp_path):
    from aelab.studies.runner import run_study

    root, _, _ = tiny_dataset
    study_file = tmp_path / "s.toml"
    study_file.write_text(
        'title = "Tiny anomalies"\ndatasets = ["tiny"]\n\n[[steps]]\nname = "oneclass"\nkind = "anomaly"\n'
        'classes = [0, 1]\ncode_size = 4\nepochs = 1\nbatch_size = 2\nneighbours = 2\n'
    )
    manifest = run_study(
        parse_study(study_file.read_text(), str(study_file)),
        tmp_path / "out",
        data_dir=root,
        quiet=True,
        log=lambda m: None,
        workers=1,
    )
    assert [s["status"] for s in manifest["steps"]] == ["run"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## One-class anomaly detection" in report and "tiny/oneclass/roc.png" in report
    assert "No one-class results on tiny" in report  # no published row for a data set the paper did not use
