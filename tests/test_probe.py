"""Code probes: accuracy on separable synthetic codes, refusals, `aelab probe` on real run folders, and the
raw-pixel reproduction of the Fashion-MNIST paper's rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aelab.cli import main
from aelab.config import ProbeConfig, TrainConfig
from aelab.data import load_dataset
from aelab.errors import CheckpointError, ConfigError, InputError
from aelab.tasks.probe.features import PUBLISHED_RAW, probe_accuracy, subset
from aelab.tasks.probe.runs import probe_runs


def clusters(seed: int, n: int, classes: int = 3, dims: int = 4, spread: float = 0.05):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = np.eye(classes, dims) * 5
    return (centres[labels] + spread * rng.standard_normal((n, dims))).astype(np.float32), labels


def test_separated_classes_are_probed_perfectly_and_shuffled_labels_near_chance():
    train, train_labels = clusters(0, 300)
    test, test_labels = clusters(1, 200)
    result = probe_accuracy(train, train_labels, test, test_labels, ProbeConfig())
    assert result["linear"] == 1.0 and result["knn"] == 1.0 and result["converged"]
    shuffled = np.random.default_rng(2).permutation(train_labels)
    chance = probe_accuracy(train, shuffled, test, test_labels, ProbeConfig())
    assert chance["linear"] < 0.6 and chance["knn"] < 0.6  # 3 classes: chance is about 1/3


def test_unlabelled_or_mismatched_features_are_refused():
    train, labels = clusters(0, 30)
    with pytest.raises(InputError, match="no labels"):
        probe_accuracy(train, None, train, labels, ProbeConfig())
    with pytest.raises(InputError, match="one label per row"):
        probe_accuracy(train, labels[:-1], train, labels, ProbeConfig())


def test_a_subset_is_seeded_sorted_and_all_rows_without_a_size():
    assert subset(10, None, 0).tolist() == list(range(10))
    chosen = subset(1000, 100, 3)
    assert len(set(chosen)) == 100 and list(chosen) == sorted(chosen) and (chosen == subset(1000, 100, 3)).all()


def test_the_probes_fit_on_a_seeded_10000_by_default_and_all_means_every_sample(capsys):
    from aelab.cli.parser import build_parser
    from aelab.config import from_arguments

    assert ProbeConfig().train_size == 10_000  # the whole call in seconds, not a minute
    assert ProbeConfig(train_size="all").train_size is None and ProbeConfig(train_size=None).train_size is None
    args = build_parser().parse_args(["probe", "run", "--train-size", "ALL"])
    assert from_arguments(ProbeConfig, args).train_size is None
    assert from_arguments(ProbeConfig, build_parser().parse_args(["probe", "run"])).train_size == 10_000
    train = build_parser().parse_args(["train", "--train-size", "all", "--test-size", "all"])
    assert (from_arguments(TrainConfig, train).train_size, from_arguments(TrainConfig, train).test_size) == (None, None)
    for bad in ("al", "0", "-3"):
        with pytest.raises((SystemExit, ConfigError)):
            from_arguments(ProbeConfig, build_parser().parse_args(["probe", "run", "--train-size", bad]))
    assert "expected a whole number ≥ 1, or all" in capsys.readouterr().err


def test_probing_a_folder_that_is_not_a_finished_run_writes_nothing(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(CheckpointError, match="not a finished run"):
        probe_runs([tmp_path / "half"], ProbeConfig())
    assert main(["probe", str(tmp_path / "half")]) == 5
    assert list((tmp_path / "half").iterdir()) == []


@pytest.mark.slow
def test_probe_writes_codes_pca_and_pixel_rows_and_a_tsne_into_train_and_sweep_folders(real_data_dir, tmp_path):
    data = ["--data-dir", str(real_data_dir), "--quiet"]
    assert main(["train", "--quick", "--code-size", "16", "--out", str(tmp_path / "train"), *data]) == 0
    assert main(["sweep", "--quick", "--code-sizes", "4,16", "--out", str(tmp_path / "sweep"), *data]) == 0
    assert (
        main(
            [
                "probe",
                str(tmp_path / "train"),
                str(tmp_path / "sweep"),
                "--train-size",
                "3000",
                "--tsne-size",
                "300",
                *data,
            ]
        )
        == 0
    )
    train = json.loads((tmp_path / "train" / "probe.json").read_text())
    assert [(r["features"], r["code_size"]) for r in train["rows"]] == [("codes", 16), ("pca", 16), ("pixels", 784)]
    assert (tmp_path / "train" / "tsne.png").is_file()
    assert (train["n_train"], train["n_train_total"]) == (3000, 60_000)
    summary = (tmp_path / "train" / "summary.md").read_text()
    assert "fitted on the codes of a seeded 3,000 of the 60,000 training samples" in summary
    assert "the rows above fit on 3,000 of them and score lower (--train-size all to compare)" in summary
    assert (tmp_path / "sweep" / "probe.png").is_file()  # accuracy against code size, beside the test BCE
    sweep = json.loads((tmp_path / "sweep" / "probe.json").read_text())
    assert [(r["features"], r["code_size"]) for r in sweep["rows"]] == [
        ("codes", 4),
        ("pca", 4),
        ("codes", 16),
        ("pca", 16),
        ("pixels", 784),
    ]
    for row in train["rows"] + sweep["rows"]:
        assert 0.3 < row["linear"] <= 1 and 0.3 < row["knn"] <= 1  # ten classes: far above chance (0.1)
    codes = [r for r in sweep["rows"] if r["features"] == "codes"]
    assert codes[1]["linear"] > codes[0]["linear"]  # a 16-unit code keeps more than a 4-unit one


# The reproduction on the full sets (60,000 training, 10,000 test images): kNN for both data sets (a BLAS search,
# seconds), the linear probes (L-BFGS to ProbeConfig's tolerance 1e-3: about 40 iterations on MNIST, 130 on
# Fashion-MNIST, a minute or two; at scikit-learn's 1e-4 Fashion-MNIST took ~1,000, 576 s on a busy machine).
@pytest.mark.slow
@pytest.mark.parametrize(
    "name, probe", [("fashion-mnist", "knn"), ("mnist", "knn"), ("mnist", "linear"), ("fashion-mnist", "linear")]
)
def test_raw_pixel_probes_reproduce_the_fashion_mnist_papers_rows(real_data_dir, name, probe):
    data = load_dataset(name, real_data_dir, progress=False)
    result = probe_accuracy(
        data.train_images, data.train_labels, data.test_images, data.test_labels, ProbeConfig(), probes=(probe,)
    )
    assert result[probe] == pytest.approx(PUBLISHED_RAW[name][probe], abs=0.01)
