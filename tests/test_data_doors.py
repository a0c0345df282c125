"""Every kind of data through every door: six kinds of data × ten ways in, each cell checked as a user would.

The kinds: a built-in data set (MNIST), an RGB image folder with classes, an unlabelled grey image folder, a CSV
table with a label column, a .npy of 1-D signals, and arrays in memory. The doors: train a dense model, train a
conv model, a VAE with a 2-D code, the Python API, a study grid and one of its cells opened, anomaly, probe,
explore, load-then-encode, `data inspect`. A cell either works — its files exist, shapes and units round-trip, the
words fit the data — or is refused in one line that says why, leaving no folder behind. So no feature can again
work on one path only (issue 26).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from custom_data_files import digits, rgb_images, signals, write_png_folder
from sklearn.datasets import load_breast_cancer

import aelab
from aelab.cli import main
from aelab.errors import AelabError

KINDS = ("builtin", "rgb", "grey", "table", "signals", "arrays")
DOORS = ("dense", "conv", "vae2d", "api", "cell", "anomaly", "probe", "explore", "encode", "inspect")
EXPECTED_KIND = {"builtin": "image", "rgb": "image", "grey": "image", "table": "table", "signals": "signal"}
QUICK = ["--epochs", "1", "--quiet", "--batch-size", "16"]


def write_table(path: Path) -> Path:
    """scikit-learn's breast cancer table (30 named columns, values up to ~2,500) with its label column `target`."""
    bunch = load_breast_cancer()
    names = [n.replace(" ", "_") for n in bunch.feature_names]
    lines = [",".join([*names, "target"])]
    lines += [",".join([*(f"{v:g}" for v in row), str(t)]) for row, t in zip(bunch.data[:200], bunch.target[:200])]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """Each kind's data on disk (its --dataset value and extra options), and what a user holds of it in memory."""
    base = tmp_path_factory.mktemp("doors")
    images, labels = rgb_images(90, 16)
    write_png_folder(base / "rgb", images, labels)
    grey = np.zeros((90, 16, 16), np.uint8)
    grey[:, 4:12, 4:12] = digits()[0][:90]
    write_png_folder(base / "grey", grey, None)
    x, _ = signals(120, 64)
    np.save(base / "signals.npy", x)
    table = write_table(base / "table.csv")
    return {
        "base": base,
        "rgb": ([str(base / "rgb")], images),
        "grey": ([str(base / "grey")], grey),
        "table": ([str(table), "--label-column", "target"], load_breast_cancer().data[:40].astype(np.float32)),
        "signals": ([str(base / "signals.npy")], x),
        "arrays": (None, rgb_images(60, 16, seed=1)[0]),  # (n, 16, 16, 3) uint8, channels-last as Pillow gives them
    }


def source(kind: str, data: dict, real_data_dir) -> tuple[list[str], np.ndarray]:
    if kind == "builtin":
        mnist = aelab.load_dataset("mnist", real_data_dir, flatten=False)
        return ["mnist", "--train-size", "300", "--test-size", "100", "--data-dir", str(real_data_dir)], (
            np.round(mnist.test_images[:20] * 255).astype(np.uint8)
        )
    return data[kind]


def refused_in_one_line(capsys, code: int, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code not in (0, None) and len(err.splitlines()) == 1 and err.startswith("aelab: error:"), err
    for word in words:
        assert word in err, err
    return err


def train(out: Path, dataset: list[str], *options: str) -> int:
    return main(["train", "--dataset", *dataset, *QUICK, *options, "--out", str(out)])


def config_of(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_data_through_every_door(kind, door, data, real_data_dir, tmp_path, capsys):
    dataset, held = (None, data["arrays"][1]) if kind == "arrays" else source(kind, data, real_data_dir)
    DOOR_CHECKS[door](kind, dataset, held, tmp_path, capsys)


def check_dense(kind, dataset, held, tmp_path, capsys):
    if dataset is None:  # arrays in memory: the CLI cannot take them; the API trains them (the api door)
        return check_api(kind, dataset, held, tmp_path, capsys, model="deep")
    out = tmp_path / "run"
    assert train(out, dataset, "--model", "deep") == 0, capsys.readouterr().err
    assert (out / "finished.json").is_file() and (out / "weights.png").is_file()
    assert config_of(out)["description"]["kind"] == EXPECTED_KIND[kind]
    summary = (out / "summary.md").read_text()
    if kind in ("table", "signals"):
        assert "pixel" not in summary and "image" not in summary, summary


def check_conv(kind, dataset, held, tmp_path, capsys):
    if dataset is None:
        return check_api(kind, dataset, held, tmp_path, capsys, model="conv")
    out = tmp_path / "run"
    code = train(out, dataset, "--model", "conv")
    if kind in ("table", "signals"):
        refused_in_one_line(capsys, code, "--model conv", "expected images")
        assert not out.exists()
        return
    assert code == 0 and (out / "filters.png").is_file() and (out / "feature_maps.png").is_file()


def check_vae2d(kind, dataset, held, tmp_path, capsys):
    if dataset is None:
        return check_api(kind, dataset, held, tmp_path, capsys, model="vae", code_size=2)
    out = tmp_path / "run"
    options = ["--model", "vae", "--code-size", "2"]
    code = train(out, dataset, *options)
    if kind in ("table", "signals"):  # MSE data: refused, naming what makes it train — which then does
        err = refused_in_one_line(capsys, code, "--scale minmax --loss bce")
        assert not out.exists(), err
        assert train(out, dataset, *options, "--scale", "minmax", "--loss", "bce") == 0
        summary = (out / "summary.md").read_text()
        assert "Not drawn: manifold.png" in summary and not (out / "manifold.png").exists()
        return
    assert code == 0 and (out / "manifold.png").is_file() and (out / "samples.png").is_file()


def fit_input(kind: str, dataset, held):
    """What a user hands `fit`: the arrays they hold, or the path of their data."""
    return held if kind == "arrays" else dataset[0]


def check_api(kind, dataset, held, tmp_path, capsys, model="deep", code_size=8):
    settings = {"label_column": "target"} if kind == "table" else {}
    if kind == "builtin":
        ae = aelab.Autoencoder(model=model, code_size=code_size, epochs=1, verbose=0)
        ae.fit(held.astype(np.float32) / 255)
        held = held.astype(np.float32) / 255
    elif model == "conv" and kind in ("table", "signals"):
        with pytest.raises(AelabError, match="expected images"):
            aelab.Autoencoder(model=model, epochs=1, verbose=0, **settings).fit(fit_input(kind, dataset, held))
        return
    else:
        ae = aelab.Autoencoder(model=model, code_size=code_size, epochs=1, verbose=0, batch_size=16, **settings)
        ae.fit(fit_input(kind, dataset, held))
    out = ae.reconstruct(held)
    assert out.shape == held.shape  # the samples' own shape and layout
    low, high = float(held.min()), float(held.max())
    spread = high - low
    assert low - 0.5 * spread <= float(out.min()) and float(out.max()) <= high + 0.5 * spread  # their own units
    folder = ae.save(tmp_path / "saved")
    assert (folder / "finished.json").is_file() and (folder / "reconstructions.png").is_file()


def check_cell(kind, dataset, held, tmp_path, capsys):
    if dataset is None:
        return check_api(kind, dataset, held, tmp_path, capsys, model="shallow", code_size=4)
    extra = "".join(f'\n{key} = "{value}"' for key, value in zip(dataset[1::2], dataset[2::2]))
    extra = extra.replace("--label-column", "label_column").replace("--train-size", "train_size")
    extra = extra.replace("--test-size", "test_size").replace("--data-dir", "data_dir")
    study = tmp_path / "grid.toml"
    settings = {"label_column": "target"} if kind == "table" else {}
    if kind == "builtin":
        settings = {"train_size": 300, "test_size": 100}
    lines = "".join(f"\n{k} = {json.dumps(v)}" for k, v in settings.items())
    study.write_text(
        f'datasets = ["{dataset[0]}"]\n[[steps]]\nname = "grid"\nkind = "train"\nmodel = "shallow"\n'
        f"code_size = [4, 8]\nseed = [0, 1]\nepochs = 1\nbatch_size = 16{lines}\n"
    )
    argv = ["run", str(study), "--out", str(tmp_path / "study"), "--quiet"]
    if kind == "builtin":
        argv += ["--data-dir", dataset[dataset.index("--data-dir") + 1]]
    assert main(argv) == 0, capsys.readouterr().err
    folders = [p.parent for p in (tmp_path / "study").rglob("config.json") if "grid" in str(p)]
    assert folders
    cell = aelab.load(folders[0], code_size=8, seed=1) if len(folders) == 1 else None
    if cell is None:  # one folder per cell (data that trains with MSE is not batched)
        cell = aelab.load(next(f for f in folders if "code_size=8" in str(f) and "seed=1" in str(f)))
    assert cell.encode(held).shape == (len(held), 8)


def check_anomaly(kind, dataset, held, tmp_path, capsys):
    if dataset is None:  # arrays: the estimator's own score
        ae = aelab.Autoencoder(model="shallow", code_size=4, epochs=1, verbose=0, batch_size=16).fit(held)
        scores = ae.score_samples(held)
        assert scores.shape == (len(held),) and np.isfinite(scores).all()
        return
    out = tmp_path / "anomaly"
    options = ["--classes", "1"] if kind == "builtin" else []
    argv = ["anomaly", "--dataset", *dataset, "--epochs", "1", "--quiet", *options, "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads((out / "anomaly.json").read_text())
    assert result, "anomaly.json is empty"
    if kind in ("table", "signals"):
        assert "pixel" not in (out / "summary.md").read_text()


def check_probe(kind, dataset, held, tmp_path, capsys):
    if dataset is None:
        ae = aelab.Autoencoder(model="shallow", code_size=4, epochs=1, verbose=0, batch_size=16).fit(held)
        folder = ae.save(tmp_path / "saved")
        refused_in_one_line(capsys, main(["probe", str(folder), "--quiet"]), "arrays")
        return
    out = tmp_path / "run"
    assert train(out, dataset, "--model", "shallow", "--code-size", "4") == 0
    capsys.readouterr()
    code = main(
        ["probe", str(out), "--quiet", "--train-size", "60"] if kind == "builtin" else ["probe", str(out), "--quiet"]
    )
    if kind in ("grey", "signals"):  # no class subfolders, no labels in the .npy: nothing to probe
        refused_in_one_line(capsys, code, "no labels")
        return
    assert code == 0, capsys.readouterr().err
    assert (out / "probe.json").is_file()


def check_explore(kind, dataset, held, tmp_path, capsys):
    if dataset is None:
        ae = aelab.Autoencoder(model="deep", epochs=1, verbose=0, batch_size=16).fit(held)
        folder = ae.save(tmp_path / "saved")
    else:
        folder = tmp_path / "run"
        assert train(folder, dataset, "--model", "deep") == 0
    assert main(["explore", str(folder)]) == 0, capsys.readouterr().err
    page = (folder / "explorer.html").read_text()
    assert len(page.encode()) < 5 * 2**20
    if kind == "table":
        assert '"kind":"table"' in page and "mean_radius" in page


def check_encode(kind, dataset, held, tmp_path, capsys):
    if dataset is None:
        folder = aelab.Autoencoder(model="shallow", code_size=4, epochs=1, verbose=0).fit(held).save(tmp_path / "s")
    else:
        folder = tmp_path / "run"
        assert train(folder, dataset, "--model", "shallow", "--code-size", "4") == 0
    samples = held.astype(np.float32) / 255 if kind == "builtin" else held
    ae = aelab.load(folder)
    assert ae.encode(samples).shape == (len(samples), 4)
    assert ae.reconstruct(samples).shape == samples.shape


def check_inspect(kind, dataset, held, tmp_path, capsys):
    if dataset is None:  # arrays have no path to inspect: open_dataset describes them
        opened = aelab.open_dataset(held)
        assert opened.sample_shape == (3, 16, 16)
        return
    argv = ["data", "inspect", dataset[0]]
    if kind == "table":
        argv += ["--label-column", "target"]
    if kind == "builtin":
        argv += ["--data-dir", dataset[dataset.index("--data-dir") + 1]]
    assert main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip()


DOOR_CHECKS = {
    "dense": check_dense,
    "conv": check_conv,
    "vae2d": check_vae2d,
    "api": check_api,
    "cell": check_cell,
    "anomaly": check_anomaly,
    "probe": check_probe,
    "explore": check_explore,
    "encode": check_encode,
    "inspect": check_inspect,
}


def test_a_table_with_a_2d_code_finishes_from_the_cli_python_and_a_study(data, tmp_path, capsys):
    """Issue 27's bad case 5: the 2-D code's figures used to reshape a table's rows into images after training,
    leaving no finished.json (and aborting a study on every rerun)."""
    dataset, held = data["table"]
    assert train(tmp_path / "cli", dataset, "--model", "shallow", "--code-size", "2") == 0
    assert (tmp_path / "cli" / "finished.json").is_file() and (tmp_path / "cli" / "codes.png").is_file()
    assert "Not drawn: manifold.png" in (tmp_path / "cli" / "summary.md").read_text()
    ae = aelab.Autoencoder(code_size=2, epochs=1, verbose=0, batch_size=16, label_column="target").fit(dataset[0])
    assert (ae.save(tmp_path / "api") / "finished.json").is_file()
    study = tmp_path / "table.toml"
    study.write_text(
        f'datasets = ["{dataset[0]}"]\n[[steps]]\nname = "flat"\nkind = "train"\nmodel = "shallow"\n'
        'code_size = 2\nepochs = 1\nbatch_size = 16\nlabel_column = "target"\n'
    )
    for _ in range(2):  # the rerun skips the finished cell
        assert main(["run", str(study), "--out", str(tmp_path / "study"), "--quiet"]) == 0, capsys.readouterr().err
    assert len(list((tmp_path / "study").rglob("finished.json"))) == 1
