"""Windowed statistics and the metric registry (Java's ``org.apache.kafka.common.metrics``).

A :class:`Sensor` records values into its samples (both native, in
:mod:`kprod._native.stats`); each stat reading them is one named metric. Rates,
averages and maxima are *sampled* as in Java's ``SampledStat``: ``metrics.num.samples``
samples of ``metrics.sample.window.ms`` each; a sample older than
``num.samples * window`` is forgotten, so a rate says what happened recently, not
since the producer started. Totals are cumulative.

Reporters (``metric.reporters``) have Java's ``MetricsReporter`` shape:
``init(metrics)`` once with the metrics registered so far, ``metric_change(metric)``
for each metric added later, ``metric_removal(metric)`` when one is removed, and
``close()`` when the producer closes. A reporter's exception is logged, never raised
into the producer.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, NamedTuple, Sequence, Tuple

from kprod._native.clock import monotonic_ms
from kprod._native.stats import Samples, Sensor

log = logging.getLogger("kprod.metrics")

Clock = Callable[[], float]     # milliseconds

# Java's Sensor.RecordingLevel: a sensor records when its level is at most the
# configured one (metrics.recording.level).
LEVELS = {"INFO": 0, "DEBUG": 1, "TRACE": 2}


class MetricName(NamedTuple):
    """Java's ``MetricName``: name, group, description and tags."""
    name: str
    group: str
    description: str
    tags: Tuple[Tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """The key of this metric in ``Producer.metrics()``: the name, with its tags but
        client-id (one producer's metrics all have the same) as ``name{tag=value,...}``."""
        tags = [f"{k}={v}" for k, v in self.tags if k != "client-id"]
        return self.name + "{" + ",".join(tags) + "}" if tags else self.name


class MetricConfig(NamedTuple):
    window_ms: float       # metrics.sample.window.ms
    samples: int           # metrics.num.samples


class Avg:
    """Average of the recorded values in the retained samples (NaN without any)."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples

    def measure(self, now: float) -> float:
        return self.samples.average(now)


class Max:
    """Largest recorded value in the retained samples (NaN without any)."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples

    def measure(self, now: float) -> float:
        return self.samples.maximum(now)


class Rate:
    """Java ``Rate`` (per second) over a ``WindowedSum`` (see Samples.rate)."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples

    def measure(self, now: float) -> float:
        return self.samples.rate(now)


class CumulativeSum:
    """Every recorded value since the start (Java ``CumulativeSum``)."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples

    def measure(self, now: float) -> float:
        return self.samples.total


class Gauge:
    """A value read when measured (buffer-available-bytes, ...)."""

    def __init__(self, read: Callable[[], float]) -> None:
        self.read = read

    def measure(self, now: float) -> float:
        return float(self.read())


class KafkaMetric:
    """One metric as reporters see it (Java ``KafkaMetric``)."""

    __slots__ = ("metric_name", "stat", "_clock")

    def __init__(self, metric_name: MetricName, stat: Any, clock: Clock) -> None:
        self.metric_name = metric_name
        self.stat = stat
        self._clock = clock

    def metric_value(self) -> float:
        return self.stat.measure(self._clock())

    value = metric_value

    def __repr__(self) -> str:
        return f"<KafkaMetric {self.metric_name.group}/{self.metric_name.key}>"


class MetricsRegistry:
    """The metrics of one producer and its reporters (Java ``Metrics``)."""

    def __init__(self, config: MetricConfig, level: str = "INFO",
                 reporters: Sequence[Any] = (), clock: Clock = monotonic_ms) -> None:
        self.config = config
        self.level = LEVELS[level]
        self.clock = clock
        self.metrics: Dict[MetricName, KafkaMetric] = {}
        self.sensors: Dict[str, Sensor] = {}
        self.reporters = list(reporters)
        self._lock = threading.Lock()
        for reporter in self.reporters:
            self._call(reporter, "init", [])

    def sensor(self, name: str, level: str = "INFO") -> Tuple[Sensor, bool]:
        """The sensor called ``name`` and whether it was just created."""
        sensor = self.sensors.get(name)
        if sensor is not None:
            return sensor, False
        with self._lock:
            sensor = self.sensors.get(name)
            if sensor is not None:
                return sensor, False
            sensor = Sensor(Samples(self.config.window_ms, self.config.samples),
                            LEVELS[level] <= self.level, self.clock)
            self.sensors[name] = sensor
            return sensor, True

    def add(self, metric_name: MetricName, stat: Any) -> KafkaMetric:
        """Register ``stat`` (a view of a sensor's samples, or a Gauge) as ``metric_name``."""
        metric = KafkaMetric(metric_name, stat, self.clock)
        with self._lock:
            if metric_name in self.metrics:
                raise ValueError(f"metric {metric_name} registered twice")
            self.metrics[metric_name] = metric
        for reporter in self.reporters:
            self._call(reporter, "metric_change", metric)
        return metric

    def remove(self, metric_name: MetricName) -> None:
        with self._lock:
            metric = self.metrics.pop(metric_name, None)
            if metric is None:
                return
        for reporter in self.reporters:
            self._call(reporter, "metric_removal", metric)

    def values(self) -> Dict[str, float]:
        now = self.clock()
        with self._lock:
            metrics = list(self.metrics.values())
        return {m.metric_name.key: m.stat.measure(now) for m in metrics}

    def close(self) -> None:
        reporters, self.reporters = self.reporters, []
        for reporter in reporters:
            self._call(reporter, "close")

    @staticmethod
    def _call(reporter: Any, method: str, *args: Any) -> None:
        function = getattr(reporter, method, None)
        if function is None:
            return
        try:
            function(*args)
        except Exception:
            log.exception("Metrics reporter %r %s failed", reporter, method)
