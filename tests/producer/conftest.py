"""Fixtures for the producer end-to-end tests (real broker from kprod.testing)."""
from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest

from kprod.producer import Producer


@pytest.fixture
def bootstrap(kafka) -> str:
    return kafka.bootstrap_servers


@pytest.fixture
def make_producer(kafka) -> Iterator[Callable[..., Producer]]:
    """``make_producer(**settings)``: a Producer on the test broker, closed at teardown."""
    made: List[Producer] = []

    def _make(config: Any = None, **kwargs: Any) -> Producer:
        cfg = {"bootstrap.servers": kafka.bootstrap_servers}
        cfg.update(config or {})
        p = Producer(cfg, **kwargs)
        made.append(p)
        return p

    yield _make
    for p in made:
        p.close(10)
