"""--device and --deterministic on the CPU: resolution, the config field, config.json, study files, the API,
and the GPU step's choice and bookkeeping (the captured step against autograd, with the CPU's stand-in recording).

The tests that need a CUDA GPU are in tests/test_devices_gpu.py, marked `gpu`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from aelab import devices
from aelab.api import Autoencoder
from aelab.cli import main
from aelab.config import AnomalyConfig, SweepConfig, TrainConfig
from aelab.errors import CheckpointError, ConfigError
from aelab.models.dense import DenseAutoencoder
from aelab.models.registry import get_family
from aelab.objectives import ReconstructionObjective, VariationalObjective
from aelab.studies import parse_study
from aelab.train.captured import CAPTURED, NOT_CAPTURED, WARM_UP_STEPS, CapturedStep, EagerRecording, device_step
from aelab.train.checkpoint import check_same_config
from aelab.train.engines import make_step
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.step import AutogradStep
from aelab.train.trainer import Trainer

TESTS = Path(__file__).parent


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)


@pytest.fixture
def cuda_present(monkeypatch):
    """The "present" branch of resolution without a GPU: only the answer to is_available changes."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(devices, "mps_available", lambda: False)


# --- resolution ---------------------------------------------------------------------------------------


def test_auto_is_the_cpu_without_a_gpu(no_gpu):
    assert devices.available_devices() == ("cpu",)
    assert devices.resolve_device("auto") == torch.device("cpu")
    assert devices.resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_an_absent_gpu_is_refused_naming_it_and_what_is_here(no_gpu, name):
    with pytest.raises(ConfigError) as caught:
        devices.resolve_device(name)
    message = str(caught.value)
    assert message == f"--device {name}: not available on this machine: expected one of auto, cpu"


def test_auto_prefers_cuda_then_mps(cuda_present, monkeypatch):
    assert devices.available_devices() == ("cuda", "cpu")
    assert devices.resolve_device("auto") == torch.device("cuda")
    assert devices.resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(
        ConfigError, match=r"--device mps: not available on this machine: expected one of auto, cuda, cpu"
    ):
        devices.resolve_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    assert devices.resolve_device("auto") == torch.device("mps")


@pytest.mark.parametrize("name", ["gpu", "CUDA", "", None, 0])
def test_an_unknown_device_name_is_refused(name):
    with pytest.raises(ConfigError, match=r"^--device .*: expected one of auto, cpu, cuda, mps$"):
        devices.check_device(name)


# --- the config field ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [TrainConfig, SweepConfig, AnomalyConfig])
def test_every_training_config_checks_its_device_when_made(no_gpu, cls):
    assert cls().device == "cpu" and cls().deterministic is False and cls(device="auto").device == "auto"
    with pytest.raises(ConfigError, match=r"^--device cuda: not available on this machine: expected one of auto, cpu$"):
        cls(device="cuda")
    with pytest.raises(ConfigError, match=r"^--deterministic 'yes': expected true or false$"):
        cls(deterministic="yes")


def test_a_saved_gpu_config_reads_back_on_a_cpu_machine(no_gpu):
    saved = {**TrainConfig().to_json(), "device": "cuda"}
    assert TrainConfig.from_json(saved).device == "cuda"  # a run trained on a GPU loads anywhere
    with pytest.raises(ConfigError, match=r"--device 'gpu'"):
        TrainConfig.from_json({**saved, "device": "gpu"})  # the name is still checked
    with pytest.raises(ConfigError, match=r"--device cuda"):
        TrainConfig(device="cuda")  # reading back does not leak into configs made afterwards


def test_the_anomaly_models_train_where_the_anomaly_run_asks():
    config = AnomalyConfig(device="auto", deterministic=True).train_config(3)
    assert (config.device, config.deterministic) == ("auto", True)


def test_the_device_is_not_part_of_a_runs_identity(tmp_path):
    saved = {**TrainConfig().to_json(), "device": "cuda", "deterministic": True}
    check_same_config(tmp_path / "c", saved, TrainConfig().to_json())  # continues on another device
    old = {k: v for k, v in TrainConfig().to_json().items() if k not in devices.PLACEMENT_KEYS}
    check_same_config(tmp_path / "c", old, TrainConfig().to_json())  # a folder written before the field existed
    with pytest.raises(CheckpointError, match=r"code_size=16 \(asked for 32\)"):
        check_same_config(tmp_path / "c", {**saved, "code_size": 16}, TrainConfig().to_json())


# --- the command line, config.json ------------------------------------------------------------------


def train(out: Path, data_dir: Path, *extra: str) -> int:
    return main(
        [
            "train",
            "--dataset",
            "tiny",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--batch-size",
            "16",
            "--code-size",
            "4",
            "--n-images",
            "2",
            "--n-weights",
            "2",
            "--quiet",
            *extra,
        ]
    )


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("model", ["deep", "denoising"])
def test_device_cpu_trains_bit_identical_to_no_flag_and_is_recorded(tiny_dataset, tmp_path, model):
    root, _, _ = tiny_dataset
    assert train(tmp_path / "plain", root, "--model", model) == 0
    assert train(tmp_path / "cpu", root, "--model", model, "--device", "cpu") == 0
    assert train(tmp_path / "det", root, "--model", model, "--device", "auto", "--deterministic") == 0
    assert same_weights(tmp_path / "plain", tmp_path / "cpu") and same_weights(tmp_path / "plain", tmp_path / "det")
    epochs = [json.loads((tmp_path / name / "metrics.json").read_text())["epochs"] for name in ("plain", "cpu", "det")]
    assert [[e["train_loss"] for e in run] for run in epochs[1:]] == [[e["train_loss"] for e in epochs[0]]] * 2
    record = json.loads((tmp_path / "det" / "config.json").read_text())
    assert record["config"]["device"] == "auto" and record["config"]["deterministic"] is True
    assert record["device"]["asked"] == "auto" and record["device"]["resolved"] == "cpu" and record["device"]["name"]
    assert "device" not in record["engine"]  # on the CPU the engine record is as before: the compiled step
    assert record["engine"]["engine"] == "compiled"


def test_cuda_absent_exits_with_one_line_and_writes_nothing(tiny_dataset, tmp_path, capsys, no_gpu):
    root, _, _ = tiny_dataset
    assert train(tmp_path / "run", root, "--device", "cuda") == ConfigError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["aelab: error: --device cuda: not available on this machine: expected one of auto, cpu"]
    assert not (tmp_path / "run").exists()


def test_sweep_and_run_take_the_device_too(tiny_dataset, tmp_path, capsys, no_gpu):
    root, _, _ = tiny_dataset
    sweep = [
        "sweep",
        "--dataset",
        "tiny",
        "--data-dir",
        str(root),
        "--code-sizes",
        "2,4",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--quiet",
        "--out",
        str(tmp_path / "s"),
    ]
    assert main([*sweep, "--device", "mps"]) == ConfigError.exit_code and not (tmp_path / "s").exists()
    assert main([*sweep, "--device", "auto"]) == 0
    record = json.loads((tmp_path / "s" / "config.json").read_text())
    assert record["config"]["device"] == "auto" and record["device"]["resolved"] == "cpu"
    capsys.readouterr()
    assert (
        main(
            [
                "run",
                "classic",
                "--datasets",
                "tiny",
                "--data-dir",
                str(root),
                "--out",
                str(tmp_path / "r"),
                "--dry-run",
                "--device",
                "cuda",
            ]
        )
        == ConfigError.exit_code
    )
    assert "--device cuda: not available on this machine" in capsys.readouterr().err


# --- study files --------------------------------------------------------------------------------------

STUDY = 'title = "t"\ndatasets = ["fashion-mnist"]\n[[steps]]\nname = "a"\nkind = "train"\n'


def test_a_study_file_sets_the_device_and_refuses_an_absent_one(no_gpu):
    cells = parse_study(STUDY + 'device = "auto"\ndeterministic = true\n', "s.toml").cells()
    assert [(c.config.device, c.config.deterministic) for c in cells] == [("auto", True)]
    with pytest.raises(ConfigError) as caught:
        parse_study(STUDY + 'device = "cuda"\n', "s.toml")
    assert str(caught.value).startswith("s.toml:6: steps[1] device: ") and "not available on this machine" in str(
        caught.value
    )


def test_run_device_overrides_every_training_step_of_the_file(no_gpu):
    study = parse_study(
        STUDY + 'device = "cpu"\n[[steps]]\nname = "g"\nkind = "gradcheck"\n'
        '[[steps]]\nname = "s"\nkind = "sweep"\ncode_sizes = [2, 4]\n',
        "s.toml",
    )
    moved = study.with_settings(device="auto", deterministic=True)
    configs = [c.config for c in moved.cells()]
    assert configs[1] is None  # the gradient check trains nothing
    assert [(c.device, c.deterministic) for c in configs if c is not None] == [("auto", True)] * 2
    with pytest.raises(ConfigError, match=r"--device cuda: not available"):
        study.with_settings(device="cuda").cells()


# --- the Python API -----------------------------------------------------------------------------------


def test_the_estimator_takes_a_device_checked_when_made(no_gpu):
    images = np.random.default_rng(0).random((96, 784), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"^--device cuda: not available on this machine"):
        Autoencoder(device="cuda")
    plain = Autoencoder(code_size=4, epochs=2, seed=1).fit(images)
    placed = Autoencoder(code_size=4, epochs=2, seed=1, device="auto", deterministic=True).fit(images)
    assert all(
        torch.equal(a, b) for a, b in zip(plain.model_.state_dict().values(), placed.model_.state_dict().values())
    )
    assert all(p.device.type == "cpu" for p in placed.model_.parameters())  # the fitted model is the CPU's
    np.testing.assert_array_equal(plain.encode(images), placed.encode(images))


# --- the step on a GPU: which one, and the captured step's bookkeeping --------------------------------


def test_on_a_gpu_the_step_says_why_the_compiled_engine_does_not_run():
    dense = DenseAutoencoder(64, 4, generator=torch.Generator().manual_seed(0))
    cuda, mps = torch.device("cuda"), torch.device("mps")  # made, never used: nothing here touches a GPU
    captured = make_step("fused", dense, ReconstructionObjective(), 1e-3, device=cuda)
    assert type(captured) is CapturedStep and captured.describe()["fallback"] == CAPTURED.format(device="cuda")
    assert captured.describe()["device"] == "cuda" and captured.describe()["capture"] == "cuda-graph"
    eager = make_step("autograd", dense, ReconstructionObjective(), 1e-3, device=cuda)
    assert type(eager) is AutogradStep and "fallback" not in eager.describe() and eager.describe()["device"] == "cuda"
    on_mps = make_step("fused", dense, ReconstructionObjective(), 1e-3, device=mps).describe()
    assert on_mps["engine"] == "autograd" and on_mps["fallback"].startswith(
        "the compiled step runs on the CPU only; on mps"
    )
    vae = get_family("vae").build((1, 8, 8), 2, (16,), torch.Generator().manual_seed(0))
    uncaptured = device_step("fused", vae, VariationalObjective(1.0), 1e-3, cuda)
    assert type(uncaptured) is AutogradStep and uncaptured.describe()["fallback"] == NOT_CAPTURED.format(device="cuda")
    assert "engine" in make_step("fused", dense, ReconstructionObjective(), 1e-3, device=torch.device("cpu")).describe()


def images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, 64, generator=g) - 1))


def trained(step_maker, epochs: int = 2, noise: bool = True) -> tuple[Trainer, list]:
    """A deep model trained with the step `step_maker` makes; 50 images = 3 batches of 16 and one of 2."""
    model = DenseAutoencoder(64, 4, (16,), generator=torch.Generator().manual_seed(0))
    transform = (lambda x, g: (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)) if noise else None
    trainer = Trainer(
        model,
        ReconstructionObjective(),
        batch_size=16,
        epochs=epochs,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(0),
        input_transform=transform,
        quiet=True,
        engine="autograd",
    )
    trainer.engine = step_maker(model)
    trainer.optimizer = trainer.engine.optimizer
    return trainer, trainer.fit(images(50), images(20, seed=1))


def test_the_captured_step_trains_bit_identical_to_autograd():
    replays = []

    class Counting(EagerRecording):
        def replay(self):
            replays.append(1)
            super().replay()

    reference, ref_history = trained(lambda m: AutogradStep(m, ReconstructionObjective(), 1e-2), epochs=3)
    captured, history = trained(lambda m: CapturedStep(m, ReconstructionObjective(), 1e-2, Counting), epochs=3)
    # 4 steps an epoch (3 of 16, 1 of 2): per fit, WARM_UP_STEPS eager, the rest of the full batches replayed
    assert len(replays) == 3 * 3 - WARM_UP_STEPS
    assert [(r.train_loss, r.test_loss) for r in history] == [(r.train_loss, r.test_loss) for r in ref_history]
    assert all(
        torch.equal(a, b) for a, b in zip(reference.model.state_dict().values(), captured.model.state_dict().values())
    )
    assert captured.engine.recording is None  # dropped when fit ends: the model's GPU addresses go with it


def test_a_state_saved_under_one_device_continues_under_another_bit_for_bit():
    def trainer(device: str, epochs: int) -> Trainer:
        model = DenseAutoencoder(64, 4, generator=torch.Generator().manual_seed(0))
        return Trainer(
            model,
            ReconstructionObjective(),
            batch_size=16,
            epochs=epochs,
            learning_rate=1e-2,
            generator=torch.Generator().manual_seed(0),
            quiet=True,
            engine="autograd",
            device=device,
        )

    x = images(50)
    whole = trainer("cpu", 2)
    whole.fit(x)
    first = trainer("cpu", 1)
    first.fit(x)
    tensors, info = trainer_state(first)
    assert all(t.device.type == "cpu" for t in tensors.values())  # checkpoints hold CPU tensors
    second = trainer("auto", 2)  # on a GPU machine: the same state continued there (tests/test_devices_gpu.py)
    restore_trainer_state(second, tensors, info)
    second.fit(x)
    assert all(torch.equal(a, b) for a, b in zip(whole.model.state_dict().values(), second.model.state_dict().values()))


# --- --deterministic ----------------------------------------------------------------------------------


def test_deterministic_mode_is_held_while_training_only(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seen = []
    trainer = Trainer(
        DenseAutoencoder(64, 4, generator=torch.Generator().manual_seed(0)),
        ReconstructionObjective(),
        batch_size=16,
        epochs=1,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        deterministic=True,
    )
    trainer.fit(images(32), on_epoch_end=lambda r: seen.append(torch.are_deterministic_algorithms_enabled()))
    assert seen == [True] and not torch.are_deterministic_algorithms_enabled()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # a CUDA setting: the CPU leaves the environment alone
    with devices.deterministic_mode(True, torch.device("cuda")):  # sets the variable only; touches no GPU
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == devices.CUBLAS_WORKSPACE
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with devices.deterministic_mode(True, torch.device("cuda")):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"  # the user's own setting is kept


# --- the gpu marker -----------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks what happens where there is no GPU")
def test_without_a_gpu_the_gpu_tests_are_deselected_and_the_header_says_so():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(TESTS / "test_devices_gpu.py")],
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
        timeout=300,
    )
    assert proc.returncode == 5, proc.stdout  # pytest's "no tests ran": never a pass
    assert "gpu tests: deselected (no CUDA GPU here)" in proc.stdout
    assert "deselected" in proc.stdout.splitlines()[-1] and "passed" not in proc.stdout.splitlines()[-1]


def test_a_run_folder_trained_on_a_gpu_loads_on_the_cpu(tiny_dataset, tmp_path, no_gpu):
    import aelab

    root, _, _ = tiny_dataset
    assert train(tmp_path / "run", root) == 0
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    record["config"]["device"] = "cuda"  # as a GPU machine writes it (its weights are CPU tensors in any case)
    record["device"] = {"asked": "cuda", "resolved": "cuda", "name": "NVIDIA H100 80GB HBM3"}
    (tmp_path / "run" / "config.json").write_text(json.dumps(record))
    model = aelab.load(tmp_path / "run")
    assert model.config_.device == "cuda" and next(model.model_.parameters()).device.type == "cpu"
    assert model.encode(np.zeros((2, 784), dtype=np.float32)).shape == (2, 4)
    with pytest.raises(ConfigError, match=r"^--device cuda: not available"):
        model.fit(np.zeros((32, 784), dtype=np.float32))  # training again asks for the device: set_params(device=...)


# --- a checkpoint changes form between the CPU's compiled step and a GPU's torch.optim.Adam -----------


def model_maker(kind: str):
    from aelab.models.batched import BatchedDenseAutoencoder
    from aelab.objectives import PerModelBCE

    if kind == "sweep":  # three models (code sizes 2, 4, 4) side by side, each seeded as its own run
        return lambda: (
            BatchedDenseAutoencoder(64, (2, 4, 4), (16,), [torch.Generator().manual_seed(s) for s in range(3)]),
            PerModelBCE(),
        )
    if (
        kind == "vae"
    ):  # the compiled VAE step's head is one block of width 2k: the moments of mean and log_var within it
        from aelab.models.variational import DenseVAE

        return lambda: (
            DenseVAE(64, 3, (16,), generator=torch.Generator().manual_seed(0)),
            VariationalObjective(beta=2.0),
        )
    return lambda: (
        DenseAutoencoder(64, 4, (16,), generator=torch.Generator().manual_seed(0)),
        ReconstructionObjective(),
    )


def engine_trainer(make, engine: str, epochs: int) -> Trainer:
    model, objective = make()
    return Trainer(
        model,
        objective,
        batch_size=16,
        epochs=epochs,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine=engine,
        threads=1,
    )


@pytest.mark.parametrize("kind", ["dense", "sweep", "vae"])
@pytest.mark.parametrize("before, after", [("fused", "autograd"), ("autograd", "fused")])
def test_a_checkpoint_continues_on_the_other_engine(kind, before, after):
    """CPU compiled → a GPU's autograd form (and back): the continuation matches the uninterrupted run to rounding,
    and the moments survive the round trip bit for bit."""
    make, x = model_maker(kind), images(50)
    whole = engine_trainer(make, before, 2)
    whole.fit(x)
    first = engine_trainer(make, before, 1)
    first.fit(x)
    tensors, info = trainer_state(first)
    second = engine_trainer(make, after, 2)
    assert type(second.engine).__name__ != type(first.engine).__name__
    restore_trainer_state(second, tensors, info)
    back = engine_trainer(make, before, 2)
    restore_trainer_state(back, *trainer_state(second))
    assert all(torch.equal(tensors[k], v) for k, v in trainer_state(back)[0].items() if k.startswith("optim."))
    second.fit(x)
    for a, b in zip(whole.model.state_dict().values(), second.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_the_cpu_is_recorded_by_its_model_name_not_its_architecture(tmp_path, monkeypatch):
    """config.json names the processor as lscpu does (vendor included): AMD and Intel differ in what is fast."""
    name = devices.cpu_model()
    assert name not in ("x86_64", "aarch64", "unknown", "")
    assert devices.device_name(torch.device("cpu")) == name
    if Path("/proc/cpuinfo").exists() and "model name" in Path("/proc/cpuinfo").read_text():
        kernel = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        assert name.startswith(kernel)  # lscpu's name is the kernel's, with the vendor after it
    # without lscpu: the kernel's model name, from the cpuinfo file given
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(FileNotFoundError("lscpu")))
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R45 96-Core Processor\n")
    assert devices.cpu_model.__wrapped__(cpuinfo) == "AMD EPYC 9R45 96-Core Processor"
    assert devices.cpu_model.__wrapped__(tmp_path / "absent")  # neither: Python's platform names, never empty
