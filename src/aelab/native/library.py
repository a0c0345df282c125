"""The compiled kernels (built at install time) and the sgemm they multiply with, loaded once.

The kernels are the extension module `aelab.native._kernels` (native/ffibuild.py, typed by
aelab_kernels.h). Their matrix products come from SciPy's documented Cython BLAS interface:
`scipy.linalg.cython_blas.__pyx_capi__["sgemm"]` is a capsule holding the address of the Fortran-
convention sgemm of the BLAS SciPy ships (OpenBLAS, which picks its kernels for the CPU at run time:
Intel, AMD and ARM each get their own). Nothing is looked up by private symbol, and nothing is
compiled or cached at run time.

`unavailable_reason()` says why the compiled step cannot run here (module not built: no C compiler
when the package was installed; or AELAB_NATIVE=0); `describe()` is the record of what runs: the
kernels' instruction set and the BLAS behind sgemm (threadpoolctl's view of it), for config.json.
"""

from __future__ import annotations

import ctypes
import importlib
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Native:
    """The loaded module (`ffi`, `lib`), the sgemm to hand the kernels, and where it comes from."""

    ffi: object
    lib: object
    sgemm: object  # cdata aelab_sgemm
    blas: dict     # {"interface", "library", "version", "architecture", "path"}
    isa: str       # the instruction set the kernels were compiled for
    controller: object  # threadpoolctl's handle on that BLAS, to hold it to one thread per training thread

    def one_blas_thread(self) -> AbstractContextManager:
        """Inside: the BLAS runs each product on the calling thread (the compiled steps split work themselves)."""
        return self.controller.limit(limits=1)


def capsule_address(capsule: object) -> int:
    """The pointer a PyCapsule holds (the C API's PyCapsule_GetName / PyCapsule_GetPointer)."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype, api.PyCapsule_GetName.argtypes = ctypes.c_char_p, [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))


def scipy_blas() -> tuple[int, dict, object]:
    """(sgemm's address, a description of SciPy's BLAS, a threadpoolctl controller of just that library)."""
    import scipy
    from scipy.linalg import cython_blas
    from threadpoolctl import ThreadpoolController

    address = capsule_address(cython_blas.__pyx_capi__["sgemm"])
    scipy_root = Path(scipy.__file__).resolve().parent.parent  # site-packages: scipy/ and its vendored scipy.libs/
    controller = ThreadpoolController()
    ours = [lib for lib in controller.lib_controllers if lib.user_api == "blas"
            and Path(lib.filepath).resolve().is_relative_to(scipy_root) and "scipy" in Path(lib.filepath).as_posix()]
    selected = controller.select(filepath=[lib.filepath for lib in ours]) if ours else controller.select(user_api="blas")
    info = ours[0].info() if ours else {}
    blas = {"interface": f"scipy {scipy.__version__} scipy.linalg.cython_blas.sgemm",
            "library": info.get("internal_api", "unknown (not found by threadpoolctl)"),
            "version": info.get("version"), "architecture": info.get("architecture"),
            "path": Path(info["filepath"]).name if info else None}
    return address, blas, selected


@cache
def probe() -> tuple[Native | None, str | None]:
    """(the loaded kernels, None), or (None, why not)."""
    if os.environ.get("AELAB_NATIVE", "1") == "0":
        return None, "disabled by AELAB_NATIVE=0"
    try:
        _kernels = importlib.import_module("aelab.native._kernels")
    except ImportError as error:
        return None, f"the compiled module aelab.native._kernels was not built when aelab was installed ({error})"
    address, blas, controller = scipy_blas()
    ffi, lib = _kernels.ffi, _kernels.lib
    return Native(ffi, lib, ffi.cast("aelab_sgemm", address), blas, ffi.string(lib.aelab_isa()).decode(), controller), None


def load() -> Native | None:
    """The compiled kernels, or None where they cannot run here (see `unavailable_reason`)."""
    return probe()[0]


def unavailable_reason() -> str | None:
    """Why the compiled kernels cannot run here, or None when they can."""
    return probe()[1]


def describe() -> dict:
    """What the compiled step runs on here, for config.json: kernels' instruction set, the BLAS, the sgemm's module."""
    native = load()
    if native is None:
        return {"compiled": False, "reason": unavailable_reason()}
    path = native.ffi.new("char[]", 4096)
    found = native.lib.aelab_library_of(native.sgemm, path, 4096)
    sgemm_module = Path(native.ffi.string(path).decode()).name if found else None
    return {"compiled": True, "isa": native.isa, "blas": native.blas, "sgemm_module": sgemm_module}
