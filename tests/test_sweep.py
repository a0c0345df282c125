"""The bottleneck sweep: code-size parsing, its config, the figure, and run folders on tiny and real data."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aelab.config import SweepConfig, add_arguments, from_arguments
from aelab.errors import AelabError, ConfigError, OutputError
from aelab.models.dense import DenseAutoencoder
from aelab.plots.sweep import curves_from_result, sweep_figure
from aelab.runs.folder import is_finished
from aelab.tasks.sweep import FILES, model_grid, parse_code_sizes, run_sweep
from aelab.tasks.sweep_summary import format_table

QUIET = {"quiet": True, "log": lambda message: None}


@given(st.integers(1, 200), st.integers(1, 400), st.integers(1, 50))
def test_a_range_is_pythons_range(start, stop, step):
    expected = tuple(range(start, stop, step))
    if expected:
        assert parse_code_sizes(f"{start}:{stop}:{step}") == expected
        assert parse_code_sizes(f"{start}:{stop}") == tuple(range(start, stop))
    else:
        with pytest.raises(ConfigError, match="empty"):
            parse_code_sizes(f"{start}:{stop}:{step}")


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=20, unique=True))
def test_a_list_comes_back_sorted(sizes):
    assert parse_code_sizes(",".join(map(str, sizes))) == tuple(sorted(sizes))
    assert SweepConfig(code_sizes=parse_code_sizes(",".join(map(str, sizes)))).code_sizes == tuple(sorted(sizes))


def test_the_studys_sizes():
    assert parse_code_sizes("5:100:15") == (5, 20, 35, 50, 65, 80, 95) == SweepConfig().code_sizes


@pytest.mark.parametrize(
    "text", ["5:x", "0,5", "10:5:1", "", " ", "5:100:0", "5:100:-5", "5,5", "1:2:3:4", "-5:10", "5,,6", "5.0", "a"]
)
def test_bad_code_sizes_are_one_line_config_errors(text):
    with pytest.raises(ConfigError) as info:
        parse_code_sizes(text)
    assert "\n" not in str(info.value) and str(info.value).startswith("--code-sizes")


def test_the_cli_options_take_ranges_and_lists():
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(parser, SweepConfig)
    config = from_arguments(SweepConfig, parser.parse_args(["--code-sizes", "5:100:15", "--seeds", "3"]))
    assert config.code_sizes == (5, 20, 35, 50, 65, 80, 95) and config.seeds == 3
    assert from_arguments(SweepConfig, parser.parse_args(["--code-sizes", "64,5"])).code_sizes == (5, 64)
    with pytest.raises(argparse.ArgumentError, match="the range is empty"):
        parser.parse_args(["--code-sizes", "10:5:1"])


@pytest.mark.parametrize(
    "bad",
    [
        {"code_sizes": (20, 5)},
        {"code_sizes": ()},
        {"code_sizes": (5, 5)},
        {"code_sizes": (0,)},
        {"model": "conv"},
        {"seeds": 0},
        {"epochs": 0},
        {"train_size": 0},
        {"seed": -1},
        {"learning_rate": 0.0},
        {"hidden_sizes": ()},
    ],
)
def test_config_refuses_bad_values(bad):
    with pytest.raises(ConfigError):
        SweepConfig(**bad)


def test_config_round_trips_through_json():
    config = SweepConfig(code_sizes=(3, 9), seeds=2, train_size=100, model="deep", hidden_sizes=(32, 16))
    assert SweepConfig.from_json(json.loads(json.dumps(config.to_json()))) == config


def test_model_grid_is_sizes_outer_seeds_inner():
    assert model_grid(SweepConfig(code_sizes=(3, 9), seeds=2, seed=5)) == [(3, 5), (3, 6), (9, 5), (9, 6)]


def test_figure_has_both_panels_and_every_size():
    sizes = [5, 20, 35, 50]
    rng = np.random.default_rng(0)
    curves = {
        f"{s}_{m}": rng.uniform(0.01, 0.1, (3, len(sizes))) for s in ("train", "test") for m in ("bce_excess", "mse")
    }
    pca = {key: value[0] for key, value in curves.items()}
    fig = sweep_figure(sizes, curves, pca)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert list(ax.get_xticks()) == sizes
        assert len(ax.collections) >= 2  # a ± sd band for train and for test
    assert {"BCE − entropy floor (nats per pixel)", "MSE per pixel"} == {ax.get_ylabel() for ax in fig.axes}


def tiny_sweep(tiny_dataset, tmp_path, **settings):
    root, _, _ = tiny_dataset
    config = SweepConfig(dataset="tiny", code_sizes=(2, 4), seeds=2, epochs=2, batch_size=16, **settings)
    return config, run_sweep(config, tmp_path / "sweep", data_dir=root, **QUIET)


@pytest.mark.parametrize("model", ["shallow", "deep"])
def test_sweep_json_schema(tiny_dataset, tmp_path, model):
    config, result = tiny_sweep(tiny_dataset, tmp_path, model=model, hidden_sizes=(8,))
    out = tmp_path / "sweep"
    assert json.loads((out / "sweep.json").read_text()) == json.loads(json.dumps(result))
    assert is_finished(out) and all((out / name).is_file() for name in FILES)
    assert SweepConfig.from_json(json.loads((out / "config.json").read_text())["config"]) == config
    assert result["seeds"] == [0, 1] and result["n_train"] == 64 and result["n_test"] == 16
    assert len(result["seconds_per_epoch"]) == 2 and result["bce_floor"]["test"] > 0
    assert [entry["code_size"] for entry in result["sizes"]] == [2, 4]
    for entry in result["sizes"]:
        hidden = (8,) if model == "deep" else ()
        assert entry["n_parameters"] == sum(
            p.numel() for p in DenseAutoencoder(784, entry["code_size"], hidden).parameters()
        )
        assert [run["seed"] for run in entry["runs"]] == [0, 1]
        for run in entry["runs"]:
            assert [e["epoch"] for e in run["epochs"]] == [1, 2]
            assert set(run["epochs"][0]) == {
                "epoch",
                "train_bce",
                "test_bce",
                "train_mse",
                "test_mse",
                "test_bce_excess",
            }
            final = run["final"]
            assert final["gap_bce"] == pytest.approx(final["test_bce"] - final["train_bce"])
            assert final["gap_bce_excess"] == pytest.approx(final["test_bce_excess"] - final["train_bce_excess"])
            assert final["test_bce"] == pytest.approx(run["epochs"][-1]["test_bce"])
        values = [run["final"]["test_bce"] for run in entry["runs"]]
        assert entry["std"]["test_bce"] == pytest.approx(np.std(values, ddof=1))
        assert set(entry["pca"]) == {
            "train_bce",
            "test_bce",
            "train_mse",
            "test_mse",
            "train_bce_excess",
            "test_bce_excess",
        }
    assert set(result["flattening"]) == {"tolerance", "test_bce_excess", "test_mse"}
    assert "2" in format_table(result).splitlines()[1] and "± " in format_table(result)


def test_one_seed_reports_no_spread(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    result = run_sweep(
        SweepConfig(dataset="tiny", code_sizes=(3,), epochs=1, batch_size=16), tmp_path / "one", data_dir=root, **QUIET
    )
    assert result["sizes"][0]["std"]["test_bce"] is None
    assert "not measured" in (tmp_path / "one" / "summary.md").read_text()


def test_bad_inputs_fail_before_anything_is_written(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError):
        run_sweep(SweepConfig(dataset="tiny", batch_size=16), tmp_path / "file", data_dir=root, **QUIET)
    for config in (
        SweepConfig(dataset="tiny", train_size=65),
        SweepConfig(dataset="tiny", test_size=17),
        SweepConfig(dataset="tyni"),
    ):
        with pytest.raises(AelabError):
            run_sweep(config, tmp_path / "never", data_dir=root, **QUIET)
    assert not (tmp_path / "never").exists()


def test_real_sweep_writes_every_promised_file(real_data_dir, tmp_path):
    config = SweepConfig(code_sizes=(5, 20), train_size=2000, test_size=1000, epochs=1)
    result = run_sweep(config, tmp_path / "real", data_dir=real_data_dir, **QUIET)
    out = tmp_path / "real"
    assert is_finished(out) and sorted(json.loads((out / "finished.json").read_text())["files"]) == sorted(FILES)
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "Where the curve flattens" in summary and "Train–test gap" in summary
    small, large = result["sizes"]
    assert large["pca"]["train_mse"] < small["pca"]["train_mse"]  # more components never fit the training set worse
    assert 0 < small["mean"]["test_bce_excess"] and 0.1 < result["bce_floor"]["test"] < 0.5
    assert curves_from_result(result)[0] == [5, 20]
