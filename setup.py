"""Build the Cython extensions under kprod/_native.

Every ``kprod/_native/*.pyx`` becomes one extension module. Set
``KPROD_DEBUG=1`` for a debug build: -O0 -g, C assertions on, Cython bounds
and overflow checks on.

``KPROD_FUZZ=1`` builds the coverage-instrumented extensions for the atheris
fuzzers (tests/fuzz): clang with ``-fsanitize=fuzzer-no-link`` (libFuzzer's
edge counters and comparison hooks, resolved at run time by the libFuzzer library
built beside them, so these modules only load under tests/fuzz/run.py), the release
directives and
-O1. Build them with ``make fuzz-build``, which puts them in build/fuzz/lib, away
from the in-place release build. ``KPROD_FUZZ=address`` adds AddressSanitizer
(``make fuzz-build-asan``: build/fuzz-asan/lib; the runner's --asan preloads the
runtime).
"""
import glob
import os
import shutil

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("KPROD_DEBUG", "") not in ("", "0")
FUZZ = os.environ.get("KPROD_FUZZ", "") not in ("", "0")
ASAN = os.environ.get("KPROD_FUZZ", "") == "address"
link_flags = []

if FUZZ:
    clang = os.environ.get("CC") or shutil.which("clang") or shutil.which("clang-14")
    if not clang or "clang" not in os.path.basename(clang.split()[0]):
        raise SystemExit("KPROD_FUZZ=1 needs clang (libFuzzer's instrumentation); "
                         "set CC=clang-NN or install clang")
    os.environ["CC"] = clang
    os.environ.setdefault("LDSHARED", clang + " -shared")
    sanitize = "-fsanitize=fuzzer-no-link" + (",address" if ASAN else "")
    cflags = ["-O1", "-g", "-DNDEBUG", sanitize, "-fno-omit-frame-pointer",
              "-Wno-unused-function", "-Wno-unreachable-code"]
    link_flags = [sanitize]
    directives = {"boundscheck": False, "wraparound": False, "initializedcheck": False}
elif DEBUG:
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
        extra_link_args=link_flags,
    )
    for path in sorted(glob.glob("kprod/_native/*.pyx"))
]

if FUZZ:
    c_dir = "build/fuzz-asan/cython" if ASAN else "build/fuzz/cython"
else:
    c_dir = "build/cython"
setup(ext_modules=cythonize(extensions, compiler_directives=directives, build_dir=c_dir))
