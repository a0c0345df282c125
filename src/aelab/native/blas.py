"""Where the compiled step's sgemm comes from: the candidates on this machine, and a short measurement.

Each candidate is reached through a documented interface:
  - "openblas": SciPy's `scipy.linalg.cython_blas.__pyx_capi__["sgemm"]` capsule — the BLAS SciPy
    ships (OpenBLAS, which picks its kernels for the CPU at run time: Intel, AMD, ARM). Always there.
  - "mkl": oneMKL's single dynamic library (libmkl_rt, from Intel's `mkl` wheel: `pip install
    'aelab[mkl]'`, x86-64 only), its documented Fortran `sgemm`, on MKL's sequential threading layer
    (`mkl_set_threading_layer`): the compiled steps split work over threads themselves.
No candidate is looked up by a private symbol. Which is faster depends on the CPU (at the study's
shapes, MKL on Intel Xeons, OpenBLAS on AMD EPYC: issue 12), so when both are there each is timed
on one deep step's products (~20 ms) and the faster chosen — where they come within 10% of each other,
the one whole epochs measured faster on this CPU's vendor (`pick`); the times go into the engine's record.
AELAB_BLAS=openblas or mkl skips the measurement.

The choice is kept per machine (`remembered`): the BLAS decides a run's float32 rounding, so the same
command must multiply with the same library in every process — an interrupted run and its resume,
or two runs compared bit for bit. The record (`<cache>/aelab/engine/blas-choice.json`: CPU, candidates,
choice, times) lives in a folder of mode 0700 and is read only if this user owns it and nobody else
can write it; otherwise the candidates are measured again (and a checkpoint's resume still notes a
change of BLAS in its log: runs/checkpointing.py).
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib.metadata
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aelab.data.locate import cache_root
from aelab.errors import EngineError
from aelab.private_files import FILE_MODE, FOLDER_MODE, is_private, private_folder, write_private

MKL_INTERFACE_LP64, MKL_THREADING_SEQUENTIAL = 0, 1  # mkl_set_interface_layer / mkl_set_threading_layer values
# (m, n, k, transa, transb) of the deep model's large products at batch 32, column-major as sgemm sees them
STUDY_PRODUCTS = [
    (128, 32, 784, "N", "N"),
    (784, 128, 32, "N", "T"),
    (784, 32, 128, "N", "N"),
    (784, 32, 128, "T", "N"),
    (128, 784, 32, "N", "T"),
    (128, 32, 784, "N", "N"),
]


@dataclass(frozen=True)
class Candidate:
    name: str
    address: int  # of a Fortran-convention sgemm
    info: dict = field(default_factory=dict)


def capsule_address(capsule: object) -> int:
    """The pointer a PyCapsule holds (the C API's PyCapsule_GetName / PyCapsule_GetPointer)."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype, api.PyCapsule_GetName.argtypes = ctypes.c_char_p, [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))


def scipy_openblas() -> tuple[Candidate, object]:
    """SciPy's sgemm, described by threadpoolctl, and a controller of just that library (for its threads)."""
    import scipy
    from scipy.linalg import cython_blas
    from threadpoolctl import ThreadpoolController

    address = capsule_address(cython_blas.__pyx_capi__["sgemm"])
    scipy_root = Path(scipy.__file__).resolve().parent.parent  # site-packages: scipy/ and its vendored scipy.libs/
    controller = ThreadpoolController()
    ours = [
        lib
        for lib in controller.lib_controllers
        if lib.user_api == "blas"
        and Path(lib.filepath).resolve().is_relative_to(scipy_root)
        and "scipy" in Path(lib.filepath).as_posix()
    ]
    selected = (
        controller.select(filepath=[lib.filepath for lib in ours]) if ours else controller.select(user_api="blas")
    )
    info = ours[0].info() if ours else {}
    return Candidate(
        "openblas",
        address,
        {
            "interface": f"scipy {scipy.__version__} scipy.linalg.cython_blas.sgemm",
            "library": info.get("internal_api", "unknown (not found by threadpoolctl)"),
            "version": info.get("version"),
            "architecture": info.get("architecture"),
            "path": Path(info["filepath"]).name if info else None,
        },
    ), selected


def intel_mkl() -> Candidate | None:
    """oneMKL's sgemm from the `mkl` wheel's libmkl_rt, sequential; None when that wheel is not installed."""
    try:
        dist = importlib.metadata.distribution("mkl")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = next((dist.locate_file(f) for f in dist.files or [] if f.name.startswith("libmkl_rt.so")), None)
    if path is None:
        return None
    library = ctypes.CDLL(str(Path(path).resolve()))
    library.MKL_Set_Interface_Layer(MKL_INTERFACE_LP64)  # 32-bit integers, as sgemm's signature has them
    library.MKL_Set_Threading_Layer(MKL_THREADING_SEQUENTIAL)
    version = ctypes.create_string_buffer(256)
    library.MKL_Get_Version_String(version, len(version))
    return Candidate(
        "mkl",
        ctypes.cast(library.sgemm, ctypes.c_void_p).value,
        {
            "interface": "oneMKL libmkl_rt sgemm (sequential)",
            "library": "mkl",
            "version": dist.version,
            "architecture": version.value.decode(errors="replace").split(" for ")[-1],
            "path": Path(path).name,
        },
    )


def installed() -> tuple[list[Candidate], object]:
    """(the sgemm candidates installed here, SciPy's OpenBLAS first; threadpoolctl's controller of that OpenBLAS)."""
    openblas, controller = scipy_openblas()
    return [c for c in (openblas, intel_mkl()) if c is not None], controller


def product_time(ffi, sgemm, repeats: int = 15) -> float:
    """Seconds of STUDY_PRODUCTS through `sgemm`: the fastest of `repeats` rounds (the least disturbed)."""
    rng = np.random.default_rng(0)
    calls = []
    for m, n, k, ta, tb in STUDY_PRODUCTS:
        a = rng.random((m * k,), dtype=np.float32)
        b = rng.random((k * n,), dtype=np.float32)
        c = np.empty(m * n, dtype=np.float32)
        lda, ldb = (m if ta == "N" else k), (k if tb == "N" else n)
        args = [
            ffi.new("char *", ta.encode()),
            ffi.new("char *", tb.encode()),
            ffi.new("int *", m),
            ffi.new("int *", n),
            ffi.new("int *", k),
            ffi.new("float *", 1.0),
            ffi.from_buffer("float[]", a),
            ffi.new("int *", lda),
            ffi.from_buffer("float[]", b),
            ffi.new("int *", ldb),
            ffi.new("float *", 0.0),
            ffi.from_buffer("float[]", c),
            ffi.new("int *", m),
        ]
        calls.append((args, a, b, c))  # the arrays stay alive with their pointers
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for args, *_ in calls:
            sgemm(*args)
        best = min(best, time.perf_counter() - start)
    return best


def choose(ffi, found: list[Candidate]) -> tuple[Candidate, dict[str, float]]:
    """The candidate AELAB_BLAS names, the only one, or the fastest on the study's products (µs recorded)."""
    forced = os.environ.get("AELAB_BLAS")
    if forced:
        named = [c for c in found if c.name == forced]
        if not named:
            raise EngineError(
                f"AELAB_BLAS={forced!r}: expected one of {', '.join(c.name for c in found)} (installed here)"
            )
        return named[0], {}
    if len(found) == 1:
        return found[0], {}
    key = machine_key(found)
    with choosing():  # processes that start together agree: one measures, the others wait and read its record
        stored = remembered(key)
        if stored is not None and stored["choice"] in {c.name for c in found}:
            return next(c for c in found if c.name == stored["choice"]), stored["measured_us"]
        times = {c.name: round(product_time(ffi, ffi.cast("aelab_sgemm", c.address)) * 1e6, 1) for c in found}
        chosen = pick(found, times, vendor_preference(cpu_vendor()))
        remember(key, chosen.name, times)
    return chosen, times


@contextmanager
def choosing() -> Iterator[None]:
    """An exclusive lock on the choice while it is read or measured and written, so that two processes started at
    once (a study's Ray workers, a run and its twin) do not each time the candidates and choose differently under
    each other's load. Held only in the private folder; where there is none, nothing is stored to agree on."""
    folder = private_folder(choice_file().parent)
    if folder is None:
        yield
        return
    try:
        fd = os.open(folder / "blas-choice.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# Candidates within this fraction of the fastest on the short products test count as tied: on our Intel Xeon
# it measured OpenBLAS and MKL within 0.4% of each other, while whole deep epochs took 1.50 s with OpenBLAS
# and 1.27 s with MKL (BENCHMARKS.md, issue 12), so a tie is settled by what whole epochs showed per vendor.
TIE = 0.10
# Per CPU vendor, the BLAS that whole epochs measured faster: MKL on Intel (BENCHMARKS.md), OpenBLAS on AMD
# (issue 12: 150–206 against MKL's 95–105 GFLOP/s at the study's shapes on an EPYC); OpenBLAS elsewhere (ARM).
PREFERRED = {"GenuineIntel": ("mkl", "openblas")}
DEFAULT_PREFERENCE = ("openblas", "mkl")


def cpu_vendor() -> str:
    """The x86 vendor string of /proc/cpuinfo ("GenuineIntel", "AuthenticAMD"), or "" where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def vendor_preference(vendor: str) -> tuple[str, ...]:
    return PREFERRED.get(vendor, DEFAULT_PREFERENCE)


def pick(found: list[Candidate], times: dict[str, float], preference: tuple[str, ...]) -> Candidate:
    """The fastest candidate; among those within TIE of it, the one this CPU's vendor prefers."""
    fastest = min(times[c.name] for c in found)
    tied = [c for c in found if times[c.name] <= fastest * (1 + TIE)]
    rank = {name: i for i, name in enumerate(preference)}
    return min(tied, key=lambda c: (rank.get(c.name, len(rank)), times[c.name]))


def machine_key(found: list[Candidate]) -> str:
    """What a choice depends on: the CPU (model and feature flags) and the candidates' versions."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = "\n".join(
            sorted({line for line in lines if line.startswith(("model name", "flags", "Features", "CPU part"))})
        )
    except OSError:
        import platform

        cpu = platform.processor() + platform.machine()
    candidates = [(c.name, c.info.get("version")) for c in found]
    return hashlib.sha256(json.dumps([cpu, candidates]).encode()).hexdigest()


def choice_file() -> Path:
    return cache_root() / "engine" / "blas-choice.json"


def remembered(key: str) -> dict | None:
    """The stored choice for this machine and these candidates, if the record is safe to trust."""
    path = choice_file()
    if not (is_private(path.parent, FOLDER_MODE) and is_private(path, FILE_MODE)):
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # a broken record is measured again and rewritten
    if not isinstance(record, dict) or record.get("key") != key or not isinstance(record.get("measured_us"), dict):
        return None
    return record


def remember(key: str, choice: str, times: dict[str, float]) -> None:
    """Store the choice in the 0700 folder (nothing is stored where that folder is not this user's alone)."""
    record = {"key": key, "choice": choice, "measured_us": times}
    write_private(choice_file(), (json.dumps(record, indent=2, allow_nan=False) + "\n").encode())
