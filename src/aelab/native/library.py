"""The compiled kernels (built at install time) and the sgemm they multiply with, loaded once.

The kernels are the extension module `aelab.native._kernels` (native/ffibuild.py, typed by
aelab_kernels.h). Their matrix products come from a documented BLAS interface chosen by native/blas.py:
SciPy's `scipy.linalg.cython_blas` (OpenBLAS, with its run-time CPU dispatch), or oneMKL's libmkl_rt
when Intel's `mkl` wheel is installed and measures faster here. Nothing is looked up by private
symbol, and nothing is compiled or cached at run time.

`unavailable_reason()` says why the compiled step cannot run here (module not built: no C compiler
when the package was installed; or AELAB_NATIVE=0); `describe()` is the record of what runs: the
kernels' instruction set and the BLAS behind sgemm (threadpoolctl's view of it), for config.json.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aelab.native import blas


@dataclass(frozen=True)
class Native:
    """The loaded module (`ffi`, `lib`), the sgemm to hand the kernels, and where it comes from."""

    ffi: object
    lib: object
    sgemm: object  # cdata aelab_sgemm
    blas: dict  # {"interface", "library", "version", "architecture", "path"}
    isa: str  # the instruction set the kernels were compiled for
    controller: object  # threadpoolctl's handle on that BLAS, to hold it to one thread per training thread

    def one_blas_thread(self) -> AbstractContextManager:
        """Inside: the BLAS runs each product on the calling thread (the compiled steps split work themselves)."""
        return one_thread_while_held(self.controller)


HOLD = threading.Lock()
holders: dict[tuple[str, ...], tuple[int, object]] = {}  # the libraries' paths → (trainers inside, limiter)


@contextmanager
def one_thread_while_held(controller) -> Iterator[None]:
    """The BLAS's thread count is process-wide: `aelab reproduce` trains two models at once on worker
    threads, so the limit is set when the first trainer enters and restored when the last one leaves.

    Keyed by the libraries, not by the controller object: two controllers of one library (two threads that
    each probed the kernels) must share one count, or the first to leave restores the original threads under
    the other — measured: two OpenBLAS threads under each of two training threads, the study 1.6× slower."""
    key = tuple(sorted(lib.filepath for lib in controller.lib_controllers))
    with HOLD:
        count, limiter = holders.get(key, (0, None))
        holders[key] = (count + 1, limiter or controller.limit(limits=1))
    try:
        yield
    finally:
        with HOLD:
            count, limiter = holders.pop(key)
            if count > 1:
                holders[key] = (count - 1, limiter)
            else:
                limiter.restore_original_limits()


PROBING = threading.Lock()


def probe() -> tuple[Native | None, str | None]:
    """(the loaded kernels, None), or (None, why not): made once per process, also when two training threads
    ask at the same moment (functools.cache alone would let both build one)."""
    with PROBING:
        return probed()


@cache
def probed() -> tuple[Native | None, str | None]:
    if os.environ.get("AELAB_NATIVE", "1") == "0":
        return None, "disabled by AELAB_NATIVE=0"
    try:
        _kernels = importlib.import_module("aelab.native._kernels")
    except ImportError as error:
        return None, f"the compiled module aelab.native._kernels was not built when aelab was installed ({error})"
    ffi, lib = _kernels.ffi, _kernels.lib
    found, controller = blas.installed()
    chosen, times = blas.choose(ffi, found)
    record = {**chosen.info, **({"measured_us": times} if times else {})}
    return Native(
        ffi, lib, ffi.cast("aelab_sgemm", chosen.address), record, ffi.string(lib.aelab_isa()).decode(), controller
    ), None


def load() -> Native | None:
    """The compiled kernels, or None where they cannot run here (see `unavailable_reason`)."""
    return probe()[0]


def unavailable_reason() -> str | None:
    """Why the compiled kernels cannot run here, or None when they can."""
    return probe()[1]


DEFAULT_L2_BYTES = 2 << 20  # an Intel Xeon's (Sapphire Rapids) per-core L2, where Linux does not say


@cache
def l2_cache_bytes(folder: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> int:
    """One core's L2 cache in bytes, as Linux reports it (sysfs: cpu0's level-2 cache); 2 MiB where it does not."""
    for index in sorted(folder.glob("index*")) if folder.is_dir() else []:
        try:
            if (index / "level").read_text().strip() == "2" and (index / "type").read_text().strip() != "Instruction":
                size = (index / "size").read_text().strip().upper()
                return int(size[:-1]) * {"K": 1 << 10, "M": 1 << 20}[size[-1]] if size[-1] in "KM" else int(size)
        except (OSError, ValueError):
            break
    return DEFAULT_L2_BYTES


def describe() -> dict:
    """What the compiled step runs on here, for config.json: kernels' instruction set, the BLAS, the sgemm's module."""
    native = load()
    if native is None:
        return {"compiled": False, "reason": unavailable_reason()}
    path = native.ffi.new("char[]", 4096)
    found = native.lib.aelab_library_of(native.sgemm, path, 4096)
    sgemm_module = Path(native.ffi.string(path).decode()).name if found else None
    return {"compiled": True, "isa": native.isa, "blas": native.blas, "sgemm_module": sgemm_module}
