"""The soak (tests/faults/soak.py): a short form in the suite (marked slow; length
``KPROD_SOAK_SHORT_SECONDS``, default 60 s, a fault every 20 s) and the 30-minute one
(``make soak``; ``KPROD_SOAK_SECONDS``, a fault every minute). Each prints its report
and leaves a PNG of RSS and throughput in build/soak/."""
from __future__ import annotations

import os

import pytest

from .soak import check, run_soak

pytestmark = pytest.mark.slow


def _soak(three_brokers, proxies, seconds: float, fault_every: float) -> None:
    seed = os.environ.get("KPROD_SOAK_SEED")
    report = run_soak(three_brokers, proxies, seconds, fault_every,
                      seed=int(seed) if seed else None)
    print(f"soak report: {report}")
    check(report)


SHORT_SECONDS = float(os.environ.get("KPROD_SOAK_SHORT_SECONDS", "60"))
LONG_SECONDS = float(os.environ.get("KPROD_SOAK_SECONDS", "1800"))


# pytest-timeout: the run, plus the max-rate phase, the read-back (~1M records/20 s
# here) and the cluster's start.
@pytest.mark.timeout(SHORT_SECONDS + 600)
def test_soak_short(three_brokers, proxies):
    _soak(three_brokers, proxies, SHORT_SECONDS, fault_every=20.0)


@pytest.mark.soak
@pytest.mark.timeout(2 * LONG_SECONDS + 900)
def test_soak(three_brokers, proxies):
    _soak(three_brokers, proxies, LONG_SECONDS, fault_every=60.0)
