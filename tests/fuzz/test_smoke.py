"""CI's fuzz smoke: every atheris target (tests/fuzz/targets.py) for 50,000 inputs from
the repository corpus, two targets at a time; any finding fails the target's test with
libFuzzer's log. `make fuzz` runs the full 1,000,000 per target
(KPROD_FUZZ_SMOKE_RUNS changes the count here).

The native modules are the instrumented build when `make fuzz-build` made a fresh one,
else the release build (no clang on the machine: fuzzed uninstrumented, see run.py).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from .run import TARGET_NAMES, run_target

pytest.importorskip("atheris", reason="atheris comes with the 'fuzz' extra (make build)")

SMOKE_RUNS = int(os.environ.get("KPROD_FUZZ_SMOKE_RUNS", "50000"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(lambda t: run_target(t, SMOKE_RUNS, work=work, seed=1), TARGET_NAMES)
        return {r["target"]: r for r in done}


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_target_runs_clean(results, target):
    r = results[target]
    with open(r["log"], errors="replace") as f:
        log = f.read()
    assert r["returncode"] == 0 and not r["findings"], \
        f"{target}: finding {r['findings']} (exit {r['returncode']}):\n{log[-6000:]}"
    assert r["runs"] == SMOKE_RUNS, log[-3000:]
