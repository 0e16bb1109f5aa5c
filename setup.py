"""Build the Cython extensions under kprod/_native.

Every ``kprod/_native/*.pyx`` becomes one extension module. Set
``KPROD_DEBUG=1`` for a debug build: -O0 -g, C assertions on, Cython bounds
and overflow checks on.
"""
import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("KPROD_DEBUG", "") not in ("", "0")

if DEBUG:
    cflags = ["-O0", "-g", "-UNDEBUG", "-Wall", "-Wextra", "-Wno-unused-parameter",
              "-Wno-unused-function", "-Wno-missing-field-initializers"]
    directives = {"boundscheck": True, "wraparound": True, "overflowcheck": True,
                  "initializedcheck": True}
else:
    cflags = ["-O3", "-DNDEBUG", "-Wall", "-Wno-unused-function",
              "-Wno-unreachable-code"]
    directives = {"boundscheck": False, "wraparound": False, "initializedcheck": False}
directives.update({"language_level": 3, "cdivision": True, "embedsignature": True})

extensions = [
    Extension(
        "kprod._native." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=["kprod/_native"],
        extra_compile_args=cflags,
    )
    for path in sorted(glob.glob("kprod/_native/*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives,
                            build_dir="build/cython"))
