"""Build the compiled kernels as the extension module `aelab.native._kernels` (cffi, API mode).

Run by the package build (setup.py hands `ffibuilder` to setuptools), so `pip install` / `make
install` compiles kernels.c once, on the machine that installs; nothing is compiled or cached at run
time. aelab_kernels.h is the one boundary: cffi reads it as the declarations Python sees and the
module includes it, so the compiler checks that both sides agree.

Flags: -O3 and the floating-point relaxations that let the sums vectorize (without
-ffinite-math-only, so NaN and inf still reach the trainer's guards); the CPU's own instruction set
(-march=native, or -mcpu=native where only that is understood, as on some ARM compilers) and
-mprefer-vector-width=512 (x86 with AVX-512) — each only if this compiler accepts it. A wheel built
this way is for the building machine's CPU; `pip install` from source builds it for each machine.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "aelab_kernels.h"
BASE_FLAGS = [
    "-O3",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fassociative-math",
    "-fno-signed-zeros",
    "-freciprocal-math",
    "-std=c11",
]
CPU_FLAGS = [["-march=native", "-mcpu=native"], ["-mprefer-vector-width=512"]]  # per group: the first accepted


def compiler() -> list[str]:
    """The C compiler setuptools will use: $CC, else Python's own build's, else cc."""
    return shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")


def accepts(flag: str) -> bool:
    """Whether the compiler builds a trivial file with `flag` (warnings as errors: an ignored flag is refused)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "probe.c"
        source.write_text("int main(void) { return 0; }\n")
        try:
            done = subprocess.run(
                [*compiler(), "-Werror", flag, "-c", str(source), "-o", str(Path(folder) / "probe.o")],
                capture_output=True,
                check=False,
            )
        except OSError:
            return False
        return done.returncode == 0


def flags() -> list[str]:
    chosen = list(BASE_FLAGS)
    for group in CPU_FLAGS:
        chosen += next(([flag] for flag in group if accepts(flag)), [])
    return chosen


def declarations() -> str:
    """The header without its preprocessor lines, which cffi's parser does not read."""
    return "\n".join(line for line in HEADER.read_text().splitlines() if not line.lstrip().startswith("#"))


ffibuilder = FFI()
ffibuilder.cdef(declarations())
ffibuilder.set_source(
    "aelab.native._kernels",
    '#include <stdint.h>\n#include "aelab_kernels.h"',
    sources=[
        str((HERE / "kernels.c").relative_to(Path.cwd()))
        if HERE.is_relative_to(Path.cwd())
        else str(HERE / "kernels.c")
    ],
    include_dirs=[str(HERE)],
    extra_compile_args=flags(),
    libraries=["m", "dl", "pthread"] if sys.platform.startswith("linux") else ["m"],
)  # libdl, libpthread before glibc 2.34

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
