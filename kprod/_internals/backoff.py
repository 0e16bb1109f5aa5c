"""Exponential backoff with jitter, shared by retries and reconnects.

``base * 2^attempts`` with +-20% jitter, capped: Java's ``ExponentialBackoff`` as used
for ``retry.backoff.ms`` (KIP-580), ``reconnect.backoff.ms`` (KIP-144) and
``socket.connection.setup.timeout.ms`` (KIP-601).
"""
from __future__ import annotations

import random


def exponential(base: float, attempts: int, cap: float, rng: random.Random) -> float:
    """``base * 2^attempts`` (attempts >= 0) with +-20% jitter, at most ``cap``."""
    term = base * (2 ** min(attempts, 32))
    return min(term * rng.uniform(0.8, 1.2), cap)
