"""Fixtures for the OpenTelemetry tests: SDK providers with in-memory exporters, and
producers on the test broker (closed at teardown)."""
from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from kprod.producer import Producer


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(spans: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return provider


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    provider = MeterProvider(metric_readers=[metric_reader])
    yield provider
    provider.shutdown()


@pytest.fixture
def bootstrap(kafka) -> str:
    return kafka.bootstrap_servers


@pytest.fixture
def make_producer(kafka) -> Iterator[Callable[..., Producer]]:
    made: List[Producer] = []

    def _make(**settings: Any) -> Producer:
        producer = Producer({"bootstrap.servers": kafka.bootstrap_servers}, **settings)
        made.append(producer)
        return producer

    yield _make
    for producer in made:
        producer.close(10)
