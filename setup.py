"""The compiled kernels, built with the package (pyproject.toml holds everything else).

`aelab.native._kernels` comes from native/ffibuild.py (cffi, API mode). It is optional: on a machine
without a C compiler the install still succeeds, and the engine records that it trains with autograd
(aelab.native.library.unavailable_reason) instead of the compiled step.
"""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "src" / "aelab" / "native"))
from ffibuild import ffibuilder  # noqa: E402

extension = ffibuilder.distutils_extension(tmpdir="build/cffi")
extension.optional = True  # a failed compile warns instead of failing the install
setup(ext_modules=[extension])
