"""Run the atheris fuzz targets (tests/fuzz/targets.py).

    python -m tests.fuzz.run                      # every target, 1,000,000 inputs each
    python -m tests.fuzz.run --runs 50000 records produce_response
    python -m tests.fuzz.run --worker records -- -runs=1000   # one target, libFuzzer flags
    python -m tests.fuzz.run --asan --runs 200000   # the AddressSanitizer build

Each target runs in its own process (atheris' Fuzz() ends the process): Python code of
kprod is instrumented by atheris (instrument_imports, plus its str/regex hooks), the
native modules come from the instrumented build (``make fuzz-build``: clang,
-fsanitize=fuzzer-no-link) when it exists, else from the release build, which atheris
still drives but cannot see inside (the report says which); --asan takes the
AddressSanitizer build instead (``make fuzz-build-asan``, see asan_environment). The
repository corpus (tests/fuzz/corpus/<target>) seeds each run and is never written; new
inputs go to build/fuzz/corpus/<target>, findings to build/fuzz/artifacts/<target>/. A
finding stops that target's run (libFuzzer's rule) and the exit status is non-zero.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CORPUS = HERE / "corpus"
WORK = ROOT / "build" / "fuzz"
TARGET_NAMES = ("records", "produce_response", "metadata", "api_versions", "transactions",
                "sasl_messages", "scram_server_first", "scram_server_final")
MAX_LEN = 4096
TIMEOUT_S = 10          # one input taking longer is a finding (a hang)
RSS_LIMIT_MB = 1536     # a bogus length driving a huge allocation is a finding


def libfuzzer_args(target: str, runs: int, work_corpus: Path, artifacts: Path,
                   seed: Optional[int] = None) -> List[str]:
    args = [f"-runs={runs}", f"-max_len={MAX_LEN}", f"-timeout={TIMEOUT_S}",
            f"-rss_limit_mb={RSS_LIMIT_MB}", "-print_final_stats=1",
            f"-artifact_prefix={artifacts}/", str(work_corpus), str(CORPUS / target)]
    if seed is not None:
        args.insert(0, f"-seed={seed}")
    return args


def worker(target: str, fuzzer_args: Sequence[str]) -> None:
    """In this process: set up the instrumented modules, then fuzz ``target``."""
    sys.path.insert(0, str(ROOT))
    from tests.fuzz.instrumented import (
        ASAN_LIB_DIR,
        native_module_path,
        use_instrumented_native,
    )

    asan = bool(os.environ.get(_ASAN_ENV))
    instrumented = use_instrumented_native(ASAN_LIB_DIR if asan else None)
    if asan and not instrumented:
        raise SystemExit("--asan: no fresh ASan build in build/fuzz-asan "
                         "(make fuzz-build-asan)")
    import atheris

    atheris.enabled_hooks.add("RegEx")
    atheris.enabled_hooks.add("str")
    with atheris.instrument_imports(include=["kprod"]):   # (atheris: whole packages)
        from tests.fuzz import targets
    if target not in targets.TARGETS:
        raise SystemExit(f"unknown target {target!r}; targets: {', '.join(targets.TARGETS)}")
    kind = ("instrumented+asan" if asan else "instrumented") if instrumented else \
        "release-uninstrumented"
    print(f"kprod-fuzz: target={target} native={kind} "
          f"batch_reader={native_module_path('batch_reader')}", flush=True)
    run_one = targets.run_one

    def test_one_input(data: bytes) -> None:
        run_one(target, data)

    atheris.Setup([sys.argv[0], *fuzzer_args], test_one_input)
    atheris.Fuzz()


_ASAN_ENV = "KPROD_FUZZ_ASAN"
ASAN_PRELOAD = ROOT / "build" / "fuzz-asan" / "lib" / "preload"


def asan_environment() -> Dict[str, str]:
    """The child's environment for the ASan build: libFuzzer, then the ASan runtime, both
    preloaded (libFuzzer first, so its coverage hooks win over the runtime's weak ones;
    hence verify_asan_link_order=0), and the system allocator for every Python object so
    that a read past a small bytes object is seen (pymalloc would hide it)."""
    if not ASAN_PRELOAD.exists():
        raise SystemExit(f"{ASAN_PRELOAD} is missing: run make fuzz-build-asan")
    env = dict(os.environ)
    env.update({
        _ASAN_ENV: "1",
        "LD_PRELOAD": ASAN_PRELOAD.read_text().strip(),
        "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0:allocator_may_return_null=1",
        "PYTHONMALLOC": "malloc",
    })
    return env


_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.MULTILINE)
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second", re.MULTILINE)


def run_target(target: str, runs: int, work: Path = WORK, seed: Optional[int] = None,
               python: str = sys.executable, asan: bool = False) -> Dict[str, object]:
    """One target in a child process; its libFuzzer statistics and outcome."""
    corpus = work / "corpus" / target
    artifacts = work / "artifacts" / target
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [python, "-m", "tests.fuzz.run", "--worker", target, "--",
           *libfuzzer_args(target, runs, corpus, artifacts, seed)]
    log_path = work / f"{target}.log"
    started = time.time() - 1
    start = time.monotonic()
    with open(log_path, "wb") as out:   # streamed: libFuzzer's progress lines as they come
        proc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                              env=asan_environment() if asan else None, check=False)
    elapsed = time.monotonic() - start
    log = log_path.read_text(errors="replace")
    stats = {k: int(v) for k, v in _STAT.findall(log)}
    done = _DONE.search(log)
    fuzz_seconds = int(done.group(2)) if done else 0
    runs_done = stats.get("number_of_executed_units", 0)
    # libFuzzer's own rate counts whole seconds; under a few seconds, use the wall clock
    # (which includes the interpreter's start and the corpus load: a lower bound).
    rate = stats.get("average_exec_per_sec", 0) if fuzz_seconds >= 5 else \
        int(runs_done / elapsed) if elapsed > 0 else 0
    native = re.search(r"native=(\S+)", log)
    return {
        "target": target, "returncode": proc.returncode,
        "runs": runs_done,
        "execs_per_sec": rate,
        "seconds": round(elapsed, 1), "corpus_files": len(list(corpus.iterdir())),
        "native": native.group(1) if native else "?",
        "findings": sorted(p.name for p in artifacts.iterdir()     # this run's only
                           if p.stat().st_mtime >= started),
        "log": str(log_path),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        rest = argv[2:]
        worker(argv[1], rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", default=list(TARGET_NAMES))
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs per target")
    parser.add_argument("--jobs", type=int, default=1, help="targets run at once")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--asan", action="store_true",
                        help="the AddressSanitizer build (make fuzz-build-asan)")
    args = parser.parse_args(argv)
    unknown = set(args.targets) - set(TARGET_NAMES)
    if unknown:
        parser.error(f"unknown target(s) {', '.join(sorted(unknown))}")
    WORK.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        results = list(pool.map(lambda t: run_target(t, args.runs, seed=args.seed,
                                                        asan=args.asan),
                                args.targets))
    print(f"{'target':<20} {'runs':>9} {'execs/s':>8} {'seconds':>8} {'corpus':>7}  native"
          "        result")
    for r in results:
        ok = r["returncode"] == 0 and not r["findings"]
        outcome = "ok" if ok else f"FINDING {', '.join(r['findings'])} (see {r['log']})"
        print(f"{r['target']:<20} {r['runs']:>9} {r['execs_per_sec']:>8} {r['seconds']:>8} "
              f"{r['corpus_files']:>7}  {r['native']:<13} {outcome}")
    (WORK / "summary.json").write_text(json.dumps(results, indent=2))
    failed = [r for r in results if r["returncode"] != 0 or r["findings"]
              or r["runs"] < args.runs]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
