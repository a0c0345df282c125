"""Small seams of your own data (issues 26 and 27): a folder of .npy files with 1-D labels, `data inspect` on a
built-in name, a label-like column left unnamed, values beyond float32's range (as read and as scaled), 16-bit grey
PNGs, a study on your own data run twice, and the VAE's hint on a table."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aelab.cli import main
from aelab.data.custom import open_dataset
from aelab.data.custom.image_decoding import decode_chunk, decode_one, stack
from aelab.data.custom.open import read_samples
from aelab.errors import DataError
from aelab.studies import execute as execute_module
from aelab.studies import parse_study
from aelab.studies.runner import run_study
from aelab.train.checkpoint import config_differences


def one_line_error(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def write_npy_folder(root: Path, y_train: np.ndarray | None = None) -> Path:
    """x_train/y_train/x_test/y_test.npy as the README documents them: labels 1-D, one per sample."""
    rng = np.random.default_rng(0)
    root.mkdir()
    np.save(root / "x_train.npy", rng.random((30, 6)).astype(np.float32))
    np.save(root / "y_train.npy", rng.integers(0, 3, 30) if y_train is None else y_train)
    np.save(root / "x_test.npy", rng.random((10, 6)).astype(np.float32))
    np.save(root / "y_test.npy", rng.integers(0, 3, 10))
    return root


def test_a_folder_of_npy_files_reads_its_1d_labels_as_labels(tmp_path):
    root = write_npy_folder(tmp_path / "arrays")
    data = open_dataset(root)
    np.testing.assert_array_equal(data.train_labels, np.load(root / "y_train.npy"))
    np.testing.assert_array_equal(data.test_labels, np.load(root / "y_test.npy"))
    assert data.class_names == ("0", "1", "2") and data.record["split"]["method"] == "given"
    assert data.record["identity"]["files"] == 4 and data.train_images.shape == (30, 6)

    wrong = write_npy_folder(tmp_path / "column", y_train=np.zeros((30, 1), np.int64))
    with pytest.raises(DataError) as error:
        read_samples(wrong)
    assert one_line_error(error) == (
        f"{wrong / 'y_train.npy'}: shape (30, 1): expected labels of shape (n,), one whole number per sample, n ≥ 1"
    )


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_data_inspect_describes_a_built_in_data_set(real_data_dir, capsys, name):
    assert main(["data", "inspect", name, "--data-dir", str(real_data_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"data set: {name} (") and str(real_data_dir / name) in lines[0]
    assert lines[1] == "samples: 70000, each of shape (1, 28, 28), dtype uint8, values in [0, 255]"
    assert lines[2] == "split: 60000 train, 10000 test (given by the data)"
    assert lines[3].startswith("classes: 10: ") and lines[3].endswith("(training samples per class)")
    assert lines[4] == "scaling: none after dividing by 255 → values in [0, 1]" and lines[5].startswith("loss: bce")


def test_data_inspect_of_a_name_refuses_own_data_options_and_suggests_a_close_name(capsys):
    assert main(["data", "inspect", "mnist", "--scale", "minmax"]) == 2
    assert "--scale minmax: applies to --dataset PATH" in capsys.readouterr().err
    assert main(["data", "inspect", "mnst"]) == 2
    assert "did you mean 'mnist'?" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["target", "label", "Class", "y"])
def test_a_column_named_like_labels_is_not_guessed(tmp_path, name):
    path = tmp_path / "t.csv"
    path.write_text(f"a,b,{name}\n0.5,1.5,0\n2.5,3.5,1\n4.5,5.5,1\n")
    with pytest.raises(DataError) as error:
        read_samples(path)
    assert one_line_error(error) == (
        f"{path}: column '{name}' looks like labels: expected --label-column {name} "
        "(or --label-column none to keep it as a feature)"
    )
    labelled = read_samples(path, label_column=name)
    assert labelled.train.labels.tolist() == [0, 1, 1] and labelled.train.x.shape == (3, 2)
    kept = read_samples(path, label_column="none")
    assert kept.train.labels is None and kept.train.x[:, 2].tolist() == [0, 1, 1]


def test_values_beyond_float32_are_refused_where_they_are(tmp_path):
    csv = tmp_path / "huge.csv"
    csv.write_text("a,b\n1,2\n3,1e308\n")
    with pytest.raises(DataError) as error:
        read_samples(csv)
    assert one_line_error(error) == (
        f"{csv}:3:2: '1e308' is beyond float32's range: expected values within float32's range ±3.4e38"
    )
    x = np.ones((5, 3))
    x[2, 1], x[3, 0] = 1e300, -1e300
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError) as error:
        read_samples(tmp_path / "x.npy")
    assert one_line_error(error) == (
        f"{tmp_path / 'x.npy'}: 2 values beyond float32's range, the first 1e+300 at index (2, 1): "
        "expected values within float32's range ±3.4e38"
    )
    x[2, 1], x[3, 0] = float(np.finfo(np.float32).max), float(np.finfo(np.float32).min)  # the limits themselves fit
    np.save(tmp_path / "edge.npy", x)
    assert read_samples(tmp_path / "edge.npy").train.x.shape == (5, 3)


def write_overflowing_npz(path: Path) -> Path:
    """A feature that barely varies on the training split (std 5e-31) and is 1e9 in the test split: standardised,
    it becomes 2e39, beyond float32."""
    rng = np.random.default_rng(0)
    x_train = rng.normal(0, 3, (40, 2)).astype(np.float32)
    x_train[:, 0] = np.tile([0.0, 1e-30], 20)
    x_test = rng.normal(0, 3, (8, 2)).astype(np.float32)
    x_test[3, 0] = 1e9
    np.savez(path, x_train=x_train, x_test=x_test)
    return path


def test_a_value_that_scaling_would_overflow_is_refused(tmp_path):
    path = write_overflowing_npz(tmp_path / "d.npz")
    with pytest.raises(DataError) as error:
        open_dataset(path, scale="standard")
    assert one_line_error(error).startswith("sample 3, feature 0: 1e+09 scaled by standard (fitted on the training")
    assert "becomes 2e+39: expected scaled values within float32's range ±3.4e38" in str(error.value)
    assert np.isfinite(open_dataset(path, scale="none").test_images).all()


@pytest.mark.parametrize(
    "file, content, says",
    [
        ("huge.csv", "a,b\n1,2\n3,4\n5,6\n7,8\n1e308,1\n", "huge.csv:6:1: '1e308' is beyond float32's range"),
        ("big.npy", None, "big.npy: 1 value beyond float32's range, the first 1e+300 at index (2, 1)"),
        ("scaled.npz", None, "1e+09 scaled by standard (fitted on the training split) becomes 2e+39"),
        ("labels.csv", "a,b,target\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n", "column 'target' looks like labels"),
    ],
)
def test_hostile_values_are_one_line_before_anything_is_written(tmp_path, capsys, file, content, says):
    path = tmp_path / file
    if file.endswith(".csv"):
        path.write_text(content)
    elif file.endswith(".npy"):
        x = np.ones((6, 3))
        x[2, 1] = 1e300
        np.save(path, x)
    else:
        write_overflowing_npz(path)
    out = tmp_path / "run"
    extra = ["--scale", "standard"] if file.endswith(".npz") else []
    assert main(["train", "--dataset", str(path), *extra, "--batch-size", "2", "--quiet", "--out", str(out)]) == 3
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and "Warning" not in err
    assert not out.exists()
    assert main(["data", "inspect", str(path), *extra]) == 3  # inspect: the same line, no raw RuntimeWarning
    captured = capsys.readouterr()
    assert says in captured.err and len(captured.err.strip().splitlines()) == 1 and not captured.out


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_16_bit_grey_pngs_are_read_at_full_depth_in_unit_range(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 65536, (12, 8, 8)).astype(np.uint16)
    images[0, 0, 0], images[0, 0, 1] = 0, 65535
    root = tmp_path / "deep"
    root.mkdir()
    for i, image in enumerate(images):
        (root / f"{i:03d}.png").write_bytes(png_bytes(image))
    assert Image.open(root / "000.png").mode in ("I;16", "I")  # the file really is 16-bit
    expected = images.astype(np.float32) / np.float32(65535)
    for _ in range(2):  # decoded, then from the decoded cache (float32 entries verified and read back)
        x = read_samples(root).train.x
        assert x.dtype == np.float32 and x.shape == (12, 1, 8, 8)
        np.testing.assert_array_equal(x[:, 0], expected)
    data = open_dataset(root)
    assert data.record["scaling"]["method"] == "none" and data.record["loss"] == "bce"
    assert data.record["identity"]["dtype"] == "float32"
    assert 0.0 <= data.train_images.min() and data.train_images.max() <= 1.0
    assert (data.train_images == 1.0).mean() < 0.01  # clamped to 8 bits, 99.6% of the pixels were 255
    resized = read_samples(root, image_size=(4, 4)).train.x
    assert resized.dtype == np.float32 and resized.shape == (12, 1, 4, 4) and 0 <= resized.min() <= resized.max() <= 1


def test_8_and_16_bit_images_of_one_folder_share_one_scale():
    eight, deep = np.full((4, 4), 255, np.uint8), np.full((4, 4), 65535, np.uint16)
    chunk = decode_chunk(["a.png", "b.png"], [png_bytes(eight), png_bytes(deep)], None)
    assert isinstance(chunk, list)  # two dtypes: not stacked in the worker (that would leave 255 as 255.0)
    x = stack(["a.png", "b.png"], chunk)
    assert x.dtype == np.float32 and x.min() == x.max() == 1.0
    assert decode_one("c.png", png_bytes(np.full((4, 4), 128, np.uint8)), None).dtype == np.uint8  # 8-bit unchanged


def test_config_differences_take_a_default_as_matching_what_the_data_resolved():
    saved = {"model": "deep", "scale": "standard", "loss": "mse", "device": "cpu"}
    assert config_differences(saved, {"model": "deep", "scale": None, "loss": None, "device": "auto"}) == []
    assert config_differences(saved, {"model": "deep", "scale": "minmax", "loss": None}) == [
        "scale='standard' (asked for 'minmax')"
    ]
    assert config_differences(saved, {"model": "shallow", "scale": None, "loss": None}) == [
        "model='deep' (asked for 'shallow')"
    ]


def test_a_study_on_your_own_data_skips_what_is_done_and_resumes_what_is_not(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    rows = rng.normal(0, 3, (80, 6))
    table = tmp_path / "beats.csv"
    table.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in rows) + "\n")
    text = (
        f'title = "own"\ndatasets = ["{table}"]\n\n[[steps]]\nname = "depth"\nkind = "train"\nmodel = "deep"\n'
        "code_size = [2, 3]\nhidden_sizes = [8]\nepochs = 1\nbatch_size = 16\n"
    )
    study, out = parse_study(text, "own.toml", "own"), tmp_path / "out"
    first = run_study(study, out, quiet=True, log=lambda m: None, workers=1)
    names = [step["name"] for step in first["steps"]]
    assert names == ["beats.csv/depth/code_size=2", "beats.csv/depth/code_size=3"]
    assert [step["status"] for step in first["steps"]] == ["run", "run"]

    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        execute_module, "train_run", lambda config, folder, resume, **kw: calls.append((Path(folder).name, resume))
    )
    again = run_study(study, out, quiet=True, log=lambda m: None, workers=1)
    assert calls == [] and [step["status"] for step in again["steps"]] == ["skipped", "skipped"]
    (out / names[1] / "finished.json").unlink()  # interrupted after its checkpoint: continues from it
    run_study(study, out, quiet=True, log=lambda m: None, workers=1)
    assert calls == [("code_size=3", True)]


def test_the_vae_hint_names_options_that_train(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = tmp_path / "beats.csv"
    table.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in rng.normal(0, 3, (120, 5))) + "\n")
    args = ["train", "--model", "vae", "--dataset", str(table), "--code-size", "2", "--epochs", "1"]
    assert main([*args, "--quiet", "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err.strip()
    assert "(pass --scale minmax --loss bce)" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "refused").exists()
    assert main([*args, "--scale", "minmax", "--loss", "bce", "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "finished.json").is_file()

    unit = tmp_path / "unit.csv"  # values already in [0, 1]: the loss alone is what is missing
    unit.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in rng.random((120, 5))) + "\n")
    assert main([*args[:4], str(unit), *args[5:], "--quiet", "--out", str(tmp_path / "unit")]) == 2
    assert "(pass --loss bce)" in capsys.readouterr().err
