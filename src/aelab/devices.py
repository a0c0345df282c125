"""Where training runs: the device a config asks for (auto, cpu, cuda, mps), resolved against this machine.

A config names a device when it is made and the name is checked then: a device this machine does not
have is a one-line ConfigError naming it and the ones it has. `auto` is a GPU when there is one (CUDA,
else Apple's MPS), else the CPU. A config read back from a run folder (`reading_saved`) is not checked
against this machine: a run trained on a GPU loads anywhere (its weights are saved as CPU tensors).

Where a model trains does not change *what* it is: the device and `deterministic` are left out of the
comparisons that decide whether a folder holds the same run (`config_identity`), so a checkpoint
written on one device resumes on another (matching to float32 rounding, not bit for bit:
docs/devices.md).
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import torch

from aelab.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
PLACEMENT_KEYS = ("device", "deterministic")  # where and how strictly a run computes, not what it computes
CUBLAS_WORKSPACE = (
    ":4096:8"  # cuBLAS's documented setting for reproducible GEMMs (CUDA docs, "Results reproducibility")
)
_reading_saved: ContextVar[bool] = ContextVar("reading_saved", default=False)


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def available_devices() -> tuple[str, ...]:
    """The device names this machine can train on, GPUs first."""
    return (*(("cuda",) if torch.cuda.is_available() else ()), *(("mps",) if mps_available() else ()), "cpu")


def device_error(name: object, problem: str) -> ConfigError:
    """`--device …` as one line, carrying the setting and the rest of the line (errors.ConfigError), so that a study
    file names its `device` key without reading the text back."""
    return ConfigError(f"--device {problem}", setting="device", value=name, problem=problem)


def check_device(name: object) -> None:
    """A config's device: one of DEVICES, and present here unless the config is read from a saved run."""
    if not isinstance(name, str) or name not in DEVICES:
        raise device_error(name, f"{name!r}: expected one of {', '.join(DEVICES)}")
    if not _reading_saved.get():
        resolve_device(name)


def resolve_device(name: str) -> torch.device:
    """The torch device `name` means on this machine; an absent one is a one-line ConfigError."""
    here = available_devices()
    if name == "auto":
        return torch.device(here[0])
    if name not in DEVICES:
        raise device_error(name, f"{name!r}: expected one of {', '.join(DEVICES)}")
    if name not in here:
        raise device_error(name, f"{name}: not available on this machine: expected one of {', '.join(('auto', *here))}")
    return torch.device(name)


@functools.cache
def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU as lscpu names it, vendor included ("Intel(R) Xeon(R) Processor (GenuineIntel)"): AMD and Intel CPUs
    differ in which BLAS and which two-thread split is fast, so every record names it. Without lscpu, the kernel's
    model name; elsewhere Python's platform names (on Linux these say only "x86_64")."""
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True, timeout=10, env={**os.environ, "LC_ALL": "C"}
        ).stdout
        fields = {
            key.strip(): value.strip()
            for key, value in (line.split(":", 1) for line in out.splitlines() if ":" in line)
        }
        return f"{fields['Model name']} ({fields['Vendor ID']})"
    except (OSError, subprocess.SubprocessError, KeyError):
        pass
    try:
        with open(cpuinfo) as f:
            found = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        found = None
    return found or platform.processor() or platform.machine() or "unknown"


def device_name(device: torch.device) -> str:
    """The card's or processor's name, for config.json."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple GPU (MPS) on {platform.machine()}"
    return cpu_model()


def device_record(asked: str) -> dict:
    """What config.json records: the device asked for, the one it resolved to here, and its name."""
    device = resolve_device(asked)
    return {"asked": asked, "resolved": device.type, "name": device_name(device)}


def config_identity(config_json: dict) -> dict:
    """A config.json "config" without the placement keys: what must match for a run to continue or count as done."""
    return {key: value for key, value in config_json.items() if key not in PLACEMENT_KEYS}


@contextmanager
def reading_saved() -> Iterator[None]:
    """Configs made inside read a saved run: their device is checked by name only, not against this machine."""
    token = _reading_saved.set(True)
    try:
        yield
    finally:
        _reading_saved.reset(token)


@contextmanager
def deterministic_mode(on: bool, device: torch.device) -> Iterator[None]:
    """`--deterministic`: PyTorch's deterministic algorithms inside the block (an operation without one raises).

    On CUDA, cuBLAS also needs CUBLAS_WORKSPACE_CONFIG set before its first call, or its GEMMs may
    reduce in a run-dependent order; it is set here unless the user set it.
    """
    if not on:
        yield
        return
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
