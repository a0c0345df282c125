"""`aelab run STUDY`: a study's cells as run folders (batched where they can train together), run, skipped
when done, resumed when interrupted, reported with a section per grid; `--dry-run` writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aelab import cli
from aelab.config import SweepConfig, TrainConfig
from aelab.studies import execute as reproduce_module
from aelab.studies import parse_study
from aelab.studies.plan import QUICK, PlannedRun, plan, plan_study
from aelab.studies.runner import run_study
from aelab.tasks.recipe import resolve
from aelab.tasks.train import train_run

DEPTH = """
title = "Depth on tiny"
datasets = ["tiny"]
seeds = [0, 1]

[[steps]]
name = "depth"
kind = "train"
model = ["shallow", "deep"]
code_size = [2, 4]
hidden_sizes = [16]
epochs = 1
batch_size = 16

[[steps]]
name = "l1"
kind = "train"
model = "sparse"
code_size = 16
l1 = [0.0, 1e-3]
epochs = 1
batch_size = 16
seed = 0
"""


def test_the_classic_plan_is_the_one_reproduce_always_ran():
    """classic.toml planned = the steps reproduce built in code before study files existed."""
    for quick in (False, True):
        sizes = QUICK if quick else {}
        expected = [PlannedRun("gradients", "gradients", None, None)]
        for dataset in ("mnist", "fashion-mnist"):
            for model in ("shallow", "deep", "denoising", "sparse"):
                config = resolve(TrainConfig(model=model, dataset=dataset, fixed_noise=model == "denoising", **sizes))
                expected.append(PlannedRun(f"{dataset}/{model}", "train", dataset, config))
        for dataset in ("mnist", "fashion-mnist"):
            extra = {**QUICK, "code_sizes": (5, 20)} if quick else {}
            expected.append(PlannedRun(f"{dataset}/sweep", "sweep", dataset, SweepConfig(dataset=dataset, **extra)))
        fields = lambda s: (s.name, s.kind, s.dataset, s.config, s.cells)  # noqa: E731
        assert [fields(s) for s in plan(("mnist", "fashion-mnist"), quick)] == [fields(s) for s in expected]


def test_cells_that_differ_only_in_code_size_and_seed_train_together():
    steps = plan_study(parse_study(DEPTH.replace('"tiny"', '"fashion-mnist"'), "s.toml"), quick=False)
    assert [(s.name, s.kind, len(s.cells)) for s in steps] == [
        ("fashion-mnist/depth/batch,model=shallow", "sweep", 4),
        ("fashion-mnist/depth/batch,model=deep", "sweep", 4),
        ("fashion-mnist/l1/l1=0.0", "train", 1),
        ("fashion-mnist/l1/l1=0.001", "train", 1),
    ]  # L1 is not the sweep's objective
    assert steps[1].config == SweepConfig(
        model="deep",
        dataset="fashion-mnist",
        code_sizes=(2, 4),
        epochs=1,
        batch_size=16,
        seeds=2,
        seed=0,
        hidden_sizes=(16,),
    )
    assert steps[2].config.l1 == 0.0 and steps[3].config.l1 == 1e-3
    assert steps[0].record()["cells"][1] == {
        "varying": {"model": "shallow", "code_size": 2, "seed": 1},
        "code_size": 2,
        "seed": 1,
    }


@pytest.mark.parametrize("change", ['seeds = [0, 2]', 'noise = "gaussian"'])
def test_cells_that_cannot_train_together_run_one_by_one(change):
    text = DEPTH.replace('"tiny"', '"fashion-mnist"').replace(
        "seeds = [0, 1]", change if "seeds" in change else "seeds = [0, 1]"
    )
    if "noise" in change:
        text = text.replace("hidden_sizes = [16]", f"hidden_sizes = [16]\n{change}")
    steps = [s for s in plan_study(parse_study(text, "s.toml"), quick=False) if "/depth/" in s.name]
    assert len(steps) == 8 and all(s.kind == "train" and len(s.cells) == 1 for s in steps)


def write_study(tmp_path: Path, text: str = DEPTH) -> Path:
    path = tmp_path / "depth.toml"
    path.write_text(text)
    return path


def test_the_dry_run_lists_every_folder_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "run",
                str(write_study(tmp_path, DEPTH.replace('"tiny"', '"fashion-mnist"'))),
                "--out",
                str(out),
                "--dry-run",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("study depth (") and "4 run folders, 10 cells" in printed[0]
    assert "[1/4] fashion-mnist/depth/batch,model=shallow (sweep, 4 cells batched): about" in printed[1]
    assert [line.strip() for line in printed[2:6]] == [
        f"model=shallow,code_size={k},seed={s}" for k in (2, 4) for s in (0, 1)
    ]
    assert printed[-1].startswith("estimated time: about") and "nothing was written" in printed[-1]
    assert not out.exists()


def test_a_bad_study_writes_nothing_and_exits_2(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(
        [
            "run",
            str(
                write_study(
                    tmp_path, DEPTH.replace("code_size = [2, 4]", "code_size = []").replace('"tiny"', '"fashion-mnist"')
                )
            ),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and not out.exists() and len(err.splitlines()) == 1
    assert "depth.toml:10: steps[1] code_size: empty list: expected one value, or a grid" in err


def record_calls(monkeypatch) -> list[tuple[str, bool]]:
    calls: list[tuple[str, bool]] = []
    folder = lambda out: "/".join(Path(out).parts[-3:])  # noqa: E731
    monkeypatch.setattr(
        reproduce_module, "train_run", lambda config, out, resume, **kw: calls.append((folder(out), resume))
    )
    monkeypatch.setattr(
        reproduce_module, "run_sweep", lambda config, out, resume, **kw: calls.append((folder(out), resume))
    )
    return calls


def test_a_study_runs_reports_skips_what_is_done_and_resumes_what_is_not(tiny_dataset, tmp_path, monkeypatch):
    root, _, _ = tiny_dataset
    study, out, lines = parse_study(DEPTH, "depth.toml", "depth"), tmp_path / "out", []
    manifest = run_study(study, out, data_dir=root, quiet=True, log=lines.append, workers=2)
    names = ["tiny/depth/batch,model=shallow", "tiny/depth/batch,model=deep", "tiny/l1/l1=0.0", "tiny/l1/l1=0.001"]
    assert [(r["name"], r["status"]) for r in manifest["steps"]] == [(n, "run") for n in names]
    assert all((out / n / "finished.json").is_file() for n in names)
    assert any(line.startswith("[4/4]") and "elapsed" in line and "left)" in line for line in lines)
    assert lines[-1].startswith("study depth finished in")

    report = (out / "report.md").read_text()
    assert report.startswith("# Depth on tiny") and "## Grid: depth" in report and "## Grid: l1" in report
    assert (
        "## Gradients" not in report and "## Code-size sweep" not in report
    )  # no gradcheck step; batched cells are a grid
    sweep = json.loads((out / names[1] / "sweep.json").read_text())
    entry = next(
        e for e in sweep["sizes"] if e["code_size"] == 4
    )  # deep, code 4: mean ± sd over its two seeds, as read
    row = next(line for line in report.splitlines() if line.startswith("| deep | 4 |"))
    assert f"{entry['mean']['test_bce_excess']:.4f} ± {entry['std']['test_bce_excess']:.4f}" in row
    for setting in ("model", "code_size"):
        assert f"![depth against {setting}](figures/depth-tiny-{setting}.png)" in report
        assert (out / "figures" / f"depth-tiny-{setting}.png").stat().st_size > 1000
    l1 = json.loads((out / names[3] / "metrics.json").read_text())["final"]
    assert any(
        line.startswith("| 0.001 |") and f"{l1['test_code_zero_fraction']:.1%}" in line for line in report.splitlines()
    )
    assert 'src="data:image/png;base64,' in (out / "report.html").read_text()

    calls = record_calls(monkeypatch)
    again = run_study(study, out, data_dir=root, quiet=True, log=lambda m: None)
    assert calls == [] and [r["status"] for r in again["steps"]] == ["skipped"] * 4

    (out / names[1] / "finished.json").unlink()  # interrupted after its checkpoint: resumes
    (out / names[2] / "finished.json").unlink()
    (out / names[2] / "checkpoint.safetensors").unlink(missing_ok=True)  # interrupted before a checkpoint: starts over
    run_study(study, out, data_dir=root, quiet=True, log=lambda m: None, workers=1)
    assert calls == [("tiny/depth/batch,model=deep", True), ("tiny/l1/l1=0.0", False)]


def test_a_batched_cell_computes_what_train_computes_for_its_seed(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    text = DEPTH.split("[[steps]]\nname = \"l1\"")[0].replace("seeds = [0, 1]", "seeds = [0]")
    run_study(parse_study(text, "s.toml", "s"), tmp_path / "study", data_dir=root, quiet=True, log=lambda m: None)
    sweep = json.loads((tmp_path / "study" / "tiny/depth/batch,model=deep" / "sweep.json").read_text())
    config = TrainConfig(model="deep", dataset="tiny", code_size=4, hidden_sizes=(16,), epochs=1, batch_size=16, seed=0)
    single = train_run(config, tmp_path / "single", data_dir=root, quiet=True, log=lambda m: None)["final"]
    batched = next(e for e in sweep["sizes"] if e["code_size"] == 4)["runs"][0]["final"]
    assert batched["test_bce"] == pytest.approx(single["test_bce"], rel=1e-5)
    assert batched["test_mse"] == pytest.approx(single["test_mse"], rel=1e-4)


def test_the_cli_runs_a_study_file(tiny_dataset, tmp_path, capsys):
    root, _, _ = tiny_dataset
    text = (
        DEPTH.split("[[steps]]\nname = \"depth\"")[0]
        + "[[steps]]\nname = \"checks\"\nkind = \"gradcheck\"\n"
        + "[[steps]]\nname = \"l1\""
        + DEPTH.split("[[steps]]\nname = \"l1\"")[1]
    )
    code = cli.main(
        [
            "run",
            str(write_study(tmp_path, text)),
            "--out",
            str(tmp_path / "out"),
            "--data-dir",
            str(root),
            "--quiet",
            "--workers",
            "1",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and "report.html" in captured.out, captured.err
    assert json.loads((tmp_path / "out" / "checks" / "checks.json").read_text())[0]["passed"] is True
    assert "## Gradients of the simple autoencoder" in (tmp_path / "out" / "report.md").read_text()


def test_run_classic_is_reproduce(tmp_path_factory, tmp_path, capsys, monkeypatch):
    """`aelab run classic` over the folder `aelab reproduce --quick` wrote: the same run folders and configs, all
    skipped."""
    import shutil

    from shared_runs import quick_study

    study = quick_study(tmp_path_factory)
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    copy = Path(shutil.copytree(study["out"], tmp_path / "copy", symlinks=True))
    code = cli.main(
        [
            "run",
            "classic",
            "--quick",
            "--datasets",
            "fashion-mnist",
            "--out",
            str(copy),
            "--data-dir",
            str(study["data_dir"]),
            "--quiet",
        ]
    )
    assert code == 0 and "report.html" in capsys.readouterr().out
    manifest = json.loads((copy / "reproduce.json").read_text())
    assert [(r["name"], r["status"]) for r in manifest["steps"]] == [
        (r["name"], "skipped") for r in study["manifest"]["steps"] if r["status"] == "run"
    ]
    assert (copy / "report.md").read_text().startswith("# Autoencoder study: reproduction report")


def test_every_cell_of_a_grid_has_its_own_folder():
    text = DEPTH.replace('"tiny"', '"fashion-mnist"').replace(
        "l1 = [0.0, 1e-3]", "l1 = [0.1234567, 0.1234568, 1e-5, 1]"
    )
    names = [s.name for s in plan_study(parse_study(text, "s.toml"), quick=False)]
    assert (
        len(set(names)) == len(names) == 6
        and "fashion-mnist/l1/l1=0.1234567" in names
        and "fashion-mnist/l1/l1=1" in names
    )


def test_a_grid_over_seeds_alone_is_one_row_with_its_spread(tiny_dataset, tmp_path):
    root, _, _ = tiny_dataset
    text = (
        DEPTH.replace('model = ["shallow", "deep"]\ncode_size = [2, 4]', 'model = "shallow"\ncode_size = 16').split(
            "[[steps]]\nname = \"l1\""
        )[0]
        + '[[steps]]\nname = "own"\nkind = "sweep"\ncode_sizes = [[2, 4], [8]]\nepochs = 1\nbatch_size = 16\n'
    )
    run_study(parse_study(text, "s.toml", "s"), tmp_path / "out", data_dir=root, quiet=True, log=lambda m: None)
    report = (tmp_path / "out" / "report.md").read_text()
    sweep = json.loads((tmp_path / "out" / "tiny/depth/batch" / "sweep.json").read_text())["sizes"][0]
    assert "| seeds | test BCE excess |" in report
    assert f"| 2/2 | {sweep['mean']['test_bce_excess']:.4f} ± {sweep['std']['test_bce_excess']:.4f} |" in report
    assert "### Sweep `own/code_sizes=2x4` on tiny" in report and "### Sweep `own/code_sizes=8` on tiny" in report
