"""Fixtures for schema registry tests: a real Apicurio Registry (Confluent API).

* ``schema_registry``  – session-wide :class:`kprod.testing.registry.SchemaRegistry`
                          (started on first use, next to the ``kafka`` broker)
* ``registry_url``     – its Confluent-compatible API root (``.../apis/ccompat/v7``)

Tests using them get the ``kafka`` marker too (they need Java and Maven), so
``-m "not kafka"`` still runs without a JVM.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from kprod.testing.registry import SchemaRegistry

_REGISTRY_FIXTURES = {"schema_registry", "registry_url"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schema_registry: needs a real schema registry (Apicurio, via kprod.testing)")


@pytest.fixture(scope="session")
def schema_registry() -> Iterator[SchemaRegistry]:
    with SchemaRegistry() as registry:
        yield registry


@pytest.fixture(scope="session")
def registry_url(schema_registry: SchemaRegistry) -> str:
    return schema_registry.url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if set(getattr(item, "fixturenames", ())) & _REGISTRY_FIXTURES:
            item.add_marker(pytest.mark.schema_registry)
            item.add_marker(pytest.mark.kafka)
