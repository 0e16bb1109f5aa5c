"""Load kprod's native modules from the coverage-instrumented build (``make fuzz-build``).

That build (setup.py with KPROD_FUZZ=1: clang, ``-fsanitize=fuzzer-no-link``) lives in
build/fuzz/lib, apart from the in-place release modules. Its modules call libFuzzer's
coverage hooks (``__sanitizer_cov_*``): a libFuzzer library built beside them is
loaded with RTLD_GLOBAL first, so the hooks resolve when a module loads, atheris runs
on that same libFuzzer, and the fuzzer sees the native edges and comparisons as well as
the Python ones.

Call :func:`use_instrumented_native` before anything imports kprod.
``KPROD_FUZZ_NATIVE=release`` keeps the release modules (as on a machine without clang).
"""
from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
LIB_DIR = ROOT / "build" / "fuzz" / "lib" / "kprod" / "_native"
ASAN_LIB_DIR = ROOT / "build" / "fuzz-asan" / "lib" / "kprod" / "_native"
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


class _InstrumentedFinder:
    """A meta path finder for ``kprod._native.<name>`` extension modules in LIB_DIR."""

    def __init__(self, lib_dir: Path) -> None:
        self.lib_dir = lib_dir

    def find_spec(self, name: str, path, target=None):
        package, _, leaf = name.rpartition(".")
        if package != "kprod._native":
            return None
        candidate = self.lib_dir / (leaf + _SUFFIX)
        if not candidate.exists():
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, str(candidate))
        return importlib.util.spec_from_file_location(name, candidate, loader=loader)


def _load_libfuzzer_globally(lib_dir: Path) -> None:
    """libFuzzer alone (build/fuzz/lib/libfuzzer.so, from clang's fuzzer_no_main
    archive), global: atheris then runs on it (its core_without_libfuzzer) and the
    modules' coverage hooks resolve to it. (Preloading atheris' core_with_libfuzzer
    instead would put two atheris cores, one interposing the other, in the process.)"""
    if hasattr(ctypes.CDLL(None), "LLVMFuzzerRunDriver"):
        return      # preloaded (the runner's --asan: LD_PRELOAD before the ASan runtime)
    library = lib_dir.parents[1] / "libfuzzer.so"
    if not library.exists():
        raise RuntimeError(f"{library} is missing: run make fuzz-build")
    ctypes.CDLL(str(library), mode=os.RTLD_NOW | os.RTLD_GLOBAL)


SOURCES = ROOT / "kprod" / "_native"


def instrumented_build_present(lib_dir: Path = LIB_DIR) -> bool:
    """The instrumented build exists and is newer than every native source (a stale one
    would fuzz code that is no longer there)."""
    built = list(lib_dir.glob("*" + _SUFFIX)) if lib_dir.is_dir() else []
    if not built or not (lib_dir.parents[1] / "libfuzzer.so").exists():
        return False
    newest_source = max(p.stat().st_mtime for p in SOURCES.iterdir()
                        if p.suffix in (".pyx", ".pxd", ".h"))
    return min(p.stat().st_mtime for p in built) >= newest_source


def use_instrumented_native(lib_dir: Optional[Path] = None) -> bool:
    """Route kprod._native imports to the instrumented build; False when it is absent or
    stale (then the release modules load: atheris still drives them, without native
    coverage)."""
    lib_dir = lib_dir or LIB_DIR
    if os.environ.get("KPROD_FUZZ_NATIVE") == "release" or \
            not instrumented_build_present(lib_dir):
        return False
    if any(name == "kprod" or name.startswith("kprod.") for name in sys.modules):
        raise RuntimeError("kprod was imported before use_instrumented_native()")
    _load_libfuzzer_globally(lib_dir)
    sys.meta_path.insert(0, _InstrumentedFinder(lib_dir))
    return True


def native_module_path(name: str = "batch_reader") -> str:
    """Where ``kprod._native.<name>`` was loaded from (for the runner's report)."""
    module = sys.modules.get("kprod._native." + name)
    return getattr(module, "__file__", "?") if module else "?"
