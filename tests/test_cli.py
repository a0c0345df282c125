"""The command line: a real short run writes every promised file; bad input is one line and exit ≠ 0."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from safetensors.torch import load_file
from shared_runs import PROMISED

from aelab.cli import main
from aelab.config import TrainConfig


def assert_compiled_engine_recorded(config: dict) -> None:
    """The default engine is the compiled step, and config.json says so, with its BLAS and instruction set
    (CI has a C compiler, so a fallback to autograd there is a failure, not a detail)."""
    engine = config["engine"]
    assert engine["engine"] == "compiled", engine.get("fallback")
    assert engine["blas"]["library"] in ("openblas", "mkl") and engine["blas"]["interface"] and engine["isa"]


def test_train_quick_on_real_data_writes_every_file(real_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--quick",
            "--data-dir",
            str(real_data_dir),
            "--out",
            str(out),
            "--n-images",
            "4",
            "--n-weights",
            "5",
            "--quiet",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(PROMISED)  # and no temporary files left
    config = json.loads((out / "config.json").read_text())
    assert TrainConfig.from_json(config["config"]).epochs == 1
    assert_compiled_engine_recorded(config)
    metrics = json.loads((out / "metrics.json").read_text())
    epoch = metrics["epochs"][0]
    assert {"train_loss", "test_loss", "seconds"} <= set(epoch)
    final = metrics["final"]
    for key in ("test_bce", "test_mse", "test_psnr_db", "test_bce_floor", "test_bce_excess"):
        assert isinstance(final[key], float)
    assert final["test_bce"] > final["test_bce_floor"] > 0
    weights = load_file(out / "model.safetensors")
    assert weights["encoder.0.weight"].shape == (32, 784)
    assert "test BCE" in capsys.readouterr().out


def test_console_script_runs_as_a_process(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "aelab", "train", "--code-size", "0", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "aelab: error: --code-size 0: expected a whole number ≥ 1"
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--epochs", "0"], 2, "--epochs 0: expected a whole number ≥ 1"),
        (["--batch-size", "-3"], 2, "--batch-size -3"),
        (["--model", "shalow"], 2, "unknown model 'shalow' (did you mean 'shallow'?)"),
        (["--dataset", "fashion"], 2, "unknown data set 'fashion' (did you mean 'fashion-mnist'?)"),
        (["--learning-rate", "0"], 2, "--learning-rate 0"),
        (["--n-images", "0"], 2, "--n-images 0"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, code, message):
    out = tmp_path / "run"
    assert main(["train", *args, "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_output_path_that_is_a_file_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    assert main(["train", "--quick", "--out", str(blocker)]) == 6
    assert "is a file: expected a folder" in capsys.readouterr().err
    assert blocker.read_text() == "keep me"


def test_missing_data_exits_4_with_guidance(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    assert main(["train", "--quick", "--data-dir", str(tmp_path), "--out", str(tmp_path / "run")]) == 4
    err = capsys.readouterr().err
    assert "data set 'fashion-mnist' not found" in err and "AELAB_DATA_DIR" in err
    assert not (tmp_path / "run").exists()


def test_too_many_weights_or_images_refused_before_training(real_data_dir, tmp_path, capsys):
    assert (
        main(["train", "--quick", "--data-dir", str(real_data_dir), "--n-weights", "33", "--out", str(tmp_path / "r")])
        == 2
    )
    assert "--n-weights 33: expected at most 32" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_data_list_and_verify(real_data_dir, capsys):
    assert main(["data", "list", "--data-dir", str(real_data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("verified") == 2 and "mnist" in out and "fashion-mnist" in out
    assert main(["data", "verify", "mnist", "--data-dir", str(real_data_dir)]) == 0


def test_data_verify_reports_missing_and_corrupt(tiny_dataset, tmp_path, capsys):
    assert main(["data", "verify", "tiny", "--data-dir", str(tmp_path / "none")]) == 4
    assert "missing" in capsys.readouterr().out
    root, _, _ = tiny_dataset
    (root / "tiny" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    assert main(["data", "verify", "tiny", "--data-dir", str(root)]) == 3
    assert "SHA-256 mismatch" in capsys.readouterr().out


def test_gradcheck_command_table_and_json(capsys):
    assert main(["gradcheck"]) == 0
    table = capsys.readouterr().out
    for name in ("W1", "b1", "W2", "b2", "finite-differences", "autograd"):
        assert name in table
    assert main(["gradcheck", "--json", "--seed", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 8 and all(r["passed"] for r in rows)


def test_sweep_quick_on_real_data(real_data_dir, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert (
        main(
            ["sweep", "--quick", "--code-sizes", "5,20", "--data-dir", str(real_data_dir), "--out", str(out), "--quiet"]
        )
        == 0
    )
    assert {"sweep.json", "sweep.png", "summary.md", "config.json", "finished.json"} <= {p.name for p in out.iterdir()}
    assert_compiled_engine_recorded(json.loads((out / "config.json").read_text()))
    table = capsys.readouterr().out
    assert "PCA" in table and table.count("\n") >= 3


def test_sweep_bad_code_sizes_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--code-sizes", "10:5:1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--code-sizes" in err and err.count("\n") == 1


def test_version_is_printed(capsys):
    import aelab

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"aelab {aelab.__version__}\n"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["train", "--code-szie", "8"],
            "aelab train: error: unrecognized arguments: --code-szie 8: did you mean --code-size? "
            "(see aelab train --help)",
        ),
        (["trian"], "invalid choice: 'trian' (choose from 'train', "),
        (["trian"], "): did you mean 'train'? (see aelab --help)"),
        (["train", "--noise", "gausian"], "did you mean 'gaussian'? (see aelab train --help)"),
        (["data", "inspect", "x.csv", "--scael", "minmax"], "did you mean --scale? (see aelab data inspect --help)"),
        (["train", "--zzz"], "aelab train: error: unrecognized arguments: --zzz (see aelab train --help)"),
    ],
)
def test_a_typo_gets_the_closest_name_and_its_own_subcommands_help(argv, expected, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and expected in err, err


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """`aelab data inspect … | head`: the pipe closes before aelab writes; exit 141 (SIGPIPE's), stderr silent."""
    table = tmp_path / "t.csv"
    table.write_text("a,b\n" + "".join(f"{i},{2 * i}\n" for i in range(20)))
    aelab = [sys.executable, "-m", "aelab", "data", "inspect", str(table)]
    child = subprocess.Popen(aelab, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # long before the child has imported anything, let alone written
    _, err = child.communicate(timeout=120)
    assert child.returncode == 141 and b"Traceback" not in err, err.decode()


def test_the_default_run_folder_is_per_model_and_data_set(real_data_dir, tmp_path, monkeypatch, capsys):
    """`aelab train --model deep --quick` after a shallow one used to land on runs/shallow and be refused."""
    monkeypatch.chdir(tmp_path)
    common = ["--quick", "--quiet", "--dataset", "mnist", "--data-dir", str(real_data_dir)]
    assert main(["train", *common]) == 0
    assert main(["train", "--model", "deep", *common]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["deep-mnist-quick", "shallow-mnist-quick"]
    assert (tmp_path / "runs" / "deep-mnist-quick" / "finished.json").is_file()
    capsys.readouterr()
    loud = [option for option in common if option != "--quiet"]
    assert main(["train", "--code-size", "8", *loud]) == 0  # the same model again: a numbered folder beside it
    assert (
        "runs/shallow-mnist-quick holds an earlier run: writing runs/shallow-mnist-quick-2" in capsys.readouterr().err
    )
    assert (
        json.loads((tmp_path / "runs" / "shallow-mnist-quick-2" / "config.json").read_text())["config"]["code_size"]
        == 8
    )
    assert (
        json.loads((tmp_path / "runs" / "shallow-mnist-quick" / "config.json").read_text())["config"]["code_size"] == 32
    )
    assert main(["train", "--code-size", "4", "--force", *common]) == 0  # --force replaces the last, adds none
    assert (
        json.loads((tmp_path / "runs" / "shallow-mnist-quick-2" / "config.json").read_text())["config"]["code_size"]
        == 4
    )
    assert main(["anomaly", "--classes", "3", "--train-size", "200", "--test-size", "300", *common]) == 0
    assert main(["sweep", "--code-sizes", "4", *common]) == 0
    capsys.readouterr()
    assert main(["train", "--train-size", "100", "--batch-size", "512", "--out", "big-batch", *loud]) == 0
    first = capsys.readouterr().err.splitlines()[0]  # a batch above the data trains on all of it, and says so
    assert "(100 images, from" in first and first.endswith(
        "1 epoch; --batch-size 512 is more than that: one step of all of them an epoch"
    ), first
    assert main(["explore", str(tmp_path / "runs" / "anomaly-shallow-mnist-quick")]) == 5
    assert "an anomaly run's folder (its models, one per normal class, are not kept)" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "anomaly-shallow-mnist-quick",
        "deep-mnist-quick",
        "shallow-mnist-quick",
        "shallow-mnist-quick-2",
        "sweep-shallow-mnist-quick",
    ]


@pytest.mark.parametrize(
    "model, option, value, field, default",
    [("conv", "--code-size", "8", "code_size", 32), ("shallow", "--hidden-sizes", "64,32", "hidden_sizes", [128])],
)
def test_an_option_the_model_does_not_use_is_said_and_not_recorded(
    real_data_dir, tmp_path, capsys, model, option, value, field, default
):
    argv = ["train", "--model", model, option, value, "--quick", "--quiet", "--train-size", "100", "--dataset", "mnist"]
    assert main([*argv, "--data-dir", str(real_data_dir), "--out", str(tmp_path / "run")]) == 0
    assert f"aelab: warning: {option} {value} does nothing with --model {model}" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"][field] == default
