"""`aelab probe` on your own data (issue 26): runs trained on a labelled PNG class folder, a CSV with a label column
and a labelled .npz are probed on their data reopened as they trained, with the data's class names and raw-feature
row; unlabelled data, runs saved from Python on arrays and data changed since training are refused in one line,
before anything is written to any folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from custom_data_files import digits, rgb_images, write_digits_csv, write_png_folder

import aelab
from aelab.cli import main

TINY = ["--epochs", "1", "--batch-size", "16", "--engine", "autograd", "--quiet", "--n-images", "4"]


def train(dataset, out, *options: str):
    assert main(["train", "--dataset", str(dataset), "--code-size", "8", *TINY, *options, "--out", str(out)]) == 0
    return out


def probe(*folders, capsys=None) -> tuple[int, str]:
    if capsys is not None:
        capsys.readouterr()
    code = main(["probe", *map(str, folders), "--tsne-size", "60", "--quiet"])
    return code, "" if capsys is None else capsys.readouterr().err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three labelled runs (RGB squares in named class folders, digits as CSV with a label column, digits as .npz)."""
    root = tmp_path_factory.mktemp("own")
    images, labels = rgb_images(n=90, size=12)
    for c, name in enumerate(("red", "green", "blue")):
        write_png_folder(root / "squares" / name, images[labels == c], None)
    digit_images, digit_labels = digits()
    digit_images, digit_labels = digit_images[:400], digit_labels[:400]
    write_digits_csv(root / "digits.csv", digit_images.reshape(400, -1) / 255.0 * 16, digit_labels)
    np.savez(root / "digits.npz", x_train=digit_images, y_train=digit_labels)
    return {
        "root": root,
        "squares": train(root / "squares", root / "run-squares"),
        "csv": train(root / "digits.csv", root / "run-csv", "--label-column", "digit"),
        "npz": train(root / "digits.npz", root / "run-npz", "--code-size", "2"),
    }


def read(folder, name="probe.json") -> dict:
    return json.loads((folder / name).read_text())


def test_labelled_image_folder_table_and_npz_runs_are_probed_with_their_class_names(runs):
    assert probe(runs["squares"], runs["csv"], runs["npz"])[0] == 0
    squares, csv, npz = (read(runs[name]) for name in ("squares", "csv", "npz"))
    names = squares["class_names"], npz["class_names"]
    assert names == (["blue", "green", "red"], list("0123456789"))  # class subfolders in sorted order
    assert [r["features"] for r in squares["rows"]] == ["codes", "pca", "pixels"]  # images: raw pixels
    assert [r["features"] for r in csv["rows"]] == ["codes", "pca", "inputs"]  # a table: its inputs, not pixels
    assert squares["rows"][-1]["code_size"] == 12 * 12 * 3 and csv["rows"][-1]["code_size"] == 64
    for result in (squares, csv, npz):
        assert result["published_raw"] is None  # the Fashion-MNIST paper's rows are about its data sets only
        for row in result["rows"]:
            assert 0 <= row["linear"] <= 1 and 0 <= row["knn"] <= 1
    assert squares["n_test"] == json.loads((runs["squares"] / "config.json").read_text())["data"]["split"]["n_test"]
    assert squares["rows"][-1]["knn"] > 0.5  # three well-separated colours: far above chance (1/3)
    assert (runs["squares"] / "tsne.png").is_file() and npz["figure"] == "probe_codes.png"  # a 2-unit code, drawn as is
    assert (runs["npz"] / "probe_codes.png").is_file() and not (runs["npz"] / "tsne.png").exists()


def test_probing_again_replaces_the_summary_section_instead_of_adding_one(runs):
    for _ in range(2):
        assert probe(runs["npz"])[0] == 0
    summary = (runs["npz"] / "summary.md").read_text()
    assert summary.startswith("# Run summary") and summary.count("## Probes") == 1
    assert "| inputs |" not in summary and "| pixels | 64 |" in summary and "![probe_codes](probe_codes.png)" in summary


def test_unlabelled_data_is_refused_before_any_folder_is_probed(runs, tmp_path, capsys):
    images, _ = digits()
    unlabelled = train(write_png_folder(tmp_path / "plain", images[:120], None), tmp_path / "run-plain")
    (runs["csv"] / "probe.json").unlink(missing_ok=True)
    code, err = probe(runs["csv"], unlabelled, capsys=capsys)
    assert code != 0 and "no labels" in err and len(err.strip().splitlines()) == 1
    assert not (runs["csv"] / "probe.json").exists()  # the good folder first in line: still nothing written
    assert not (unlabelled / "probe.json").exists()


def test_a_run_saved_from_python_on_arrays_is_refused_in_one_line(tmp_path, capsys):
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    saved = aelab.Autoencoder(code_size=4, epochs=1, batch_size=16).fit(x).save(tmp_path / "saved")
    code, err = probe(saved, capsys=capsys)
    assert code != 0 and "not kept with the run" in err and "open_dataset" in err
    assert len(err.strip().splitlines()) == 1 and not (saved / "probe.json").exists()


def test_data_changed_since_training_is_refused(tmp_path, capsys):
    images, labels = digits()
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=images[:200], y_train=labels[:200])
    run = train(path, tmp_path / "run")
    changed = images[:200].copy()
    changed[0, 0, 0] ^= 1
    np.savez(path, x_train=changed, y_train=labels[:200])
    code, err = probe(run, capsys=capsys)
    assert code != 0 and f"the data at {path} changed since the run trained" in err
    assert len(err.strip().splitlines()) == 1 and not (run / "probe.json").exists()


def test_the_study_report_shows_each_data_sets_probes_and_how_many_samples_they_were_fitted_on(runs):
    from aelab.report.codes import probes

    assert main(["probe", str(runs["csv"]), "--train-size", "100", "--tsne-size", "60", "--quiet"]) == 0
    result = read(runs["csv"])
    total = result["n_train_total"]
    assert result["n_train"] == 100 < total
    run = {"name": "run-csv", "dataset": "digits.csv", "finished": True, "probe": result, "tsne": True}
    section = "\n".join(probes({"runs": [run]}))
    assert "| run-csv | inputs | 64 |" in section and "![t-SNE](run-csv/tsne.png)" in section
    assert f"Fitted on a seeded 100 of the {total:,} training samples." in section
    summary = (runs["csv"] / "summary.md").read_text()
    assert f"fitted on the codes of a seeded 100 of the {total:,} training samples" in summary
