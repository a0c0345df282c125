"""Compile kernels.c into a shared library once per machine, and load it.

Why not a PyTorch C++ extension: those include torch's headers and take about a minute to build;
this file is plain C on raw pointers and builds in well under a second with the system's C
compiler, so the first training run on a fresh machine hardly notices. The library is cached in
aelab's cache folder under a name that hashes the source, the flags, the compiler and the CPU
(it is built with -march=native), written to a temporary file and renamed into place.

No compiler, or AELAB_NATIVE=0: `load()` returns None and the fused steps use PyTorch kernels for
the same arithmetic (slower, same results to float32 rounding; tests/test_native.py checks both).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from functools import cache
from pathlib import Path

from aelab.data.locate import cache_root

SOURCE = Path(__file__).with_name("kernels.c")
# Fast maths without -ffinite-math-only: reassociation lets the sums vectorize, and NaN/inf still
# propagate, so a diverging run is still caught by the trainer's guards.
FLAGS = ["-O3", "-march=native", "-mprefer-vector-width=512", "-fno-math-errno", "-fno-trapping-math", "-fassociative-math",
         "-fno-signed-zeros", "-freciprocal-math", "-fPIC", "-shared"]

ptr, i64, f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
SIGNATURES = {  # argument types of each exported function, in kernels.c's order
    "aelab_bce_output": [ptr, ptr, i64, i64, i64, ptr, f32, ptr, ptr, ptr, ptr],
    "aelab_bce_sums": [ptr, ptr, ptr, i64, i64, i64, ptr, ptr],
    "aelab_bce_probabilities": [ptr, ptr, i64, i64, f32],
    "aelab_bias_relu": [ptr, ptr, i64, i64, i64],
    "aelab_relu_backward": [ptr, ptr, i64, i64, i64, f32, ptr],
    "aelab_adam": [ptr, ptr, ptr, ptr, ptr, ptr, i64, f32, f32, f32, f32, f32],
    "aelab_set_sgemm": [ptr, ptr],
    "aelab_dense_step": [i64, ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, i64, f32, ptr,
                         ptr, ptr, ptr, ptr, ptr, ptr, i64, f32, f32, f32, f32, f32],
    "aelab_sweep_part": [i64, i64, i64, ptr, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr,
                         ptr, ptr, ptr, ptr],
}
RETURNS = {"aelab_bias_relu": ctypes.c_double, "aelab_bce_probabilities": ctypes.c_double,
           "aelab_dense_step": ctypes.c_double}  # the others return nothing


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def cpu_signature() -> str:
    """What -march=native depends on: the CPU's model and feature flags (Linux), else the platform."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))
    except OSError:
        return platform.processor() + platform.machine()


def library_path(cc: str) -> Path:
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(FLAGS), cc, version, cpu_signature()]).encode())
    return cache_root() / "native" / f"kernels-{key.hexdigest()[:16]}.so"


def build(cc: str, target: Path) -> None:
    """Compile into a temporary file beside `target`, then rename (a concurrent build loses nothing)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kernels-", suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        subprocess.run([cc, *FLAGS, str(SOURCE), "-o", tmp, "-lm"], capture_output=True, text=True, check=True)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@cache
def load() -> ctypes.CDLL | None:
    """The compiled kernels, building them on first use; None when disabled or not buildable (with a warning)."""
    if os.environ.get("AELAB_NATIVE", "1") == "0":
        return None
    cc = compiler()
    if cc is None:
        warnings.warn("aelab: no C compiler found (set CC); training uses the slower PyTorch kernels", stacklevel=2)
        return None
    try:
        target = library_path(cc)
        if not target.exists():
            build(cc, target)
        library = ctypes.CDLL(str(target))
    except (OSError, subprocess.CalledProcessError) as error:
        detail = error.stderr.strip().splitlines()[-1] if isinstance(error, subprocess.CalledProcessError) and error.stderr else error
        warnings.warn(f"aelab: could not build the compiled kernels ({detail}); training uses the slower PyTorch kernels",
                      stacklevel=2)
        return None
    for name, argtypes in SIGNATURES.items():
        function = getattr(library, name)
        function.argtypes, function.restype = argtypes, RETURNS.get(name)
    sgemm, local_threads = torch_blas()
    library.has_gemm = sgemm is not None  # the whole-step kernels need it (else: kernels between torch's products)
    if sgemm is not None:
        library.aelab_set_sgemm(sgemm, local_threads)
    return library


def torch_blas() -> tuple[int | None, int | None]:
    """Addresses of the Fortran `sgemm_` and of `MKL_Set_Num_Threads_Local` in the BLAS linked into
    PyTorch (MKL in the x86 CPU wheels), so that the whole-step kernels multiply exactly as torch.mm
    would and can keep a helper thread's products on one thread; None where this build exports them not
    (without sgemm_ the products stay with PyTorch, called from Python)."""
    import torch

    folder = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib"):
        if (folder / name).is_file():
            try:
                blas = ctypes.CDLL(str(folder / name))
                sgemm = ctypes.cast(blas.sgemm_, ctypes.c_void_p).value
            except (OSError, AttributeError):
                return None, None
            threads = getattr(blas, "MKL_Set_Num_Threads_Local", None)  # the C interface (the lowercase one is Fortran's)
            return sgemm, None if threads is None else ctypes.cast(threads, ctypes.c_void_p).value
    return None, None
