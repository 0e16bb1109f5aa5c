"""Windowed statistics and the metric registry (Java's ``org.apache.kafka.common.metrics``).

A :class:`Sensor` records values into stats; each stat is one named metric. Rates,
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
import math
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

log = logging.getLogger("kprod.metrics")

Clock = Callable[[], float]     # milliseconds

# Java's Sensor.RecordingLevel: a sensor records when its level is at most the
# configured one (metrics.recording.level).
LEVELS = {"INFO": 0, "DEBUG": 1, "TRACE": 2}


def monotonic_ms() -> float:
    return time.monotonic() * 1000.0


class MetricName(NamedTuple):
    """Java's ``MetricName``: name, group, description and tags."""
    name: str
    group: str
    description: str
    tags: Tuple[Tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """The key of this metric in ``Producer.metrics()``: the bare name for the
        producer-metrics group, ``name{tag=value,...}`` for tagged metrics."""
        if not self.tags:
            return self.name
        return self.name + "{" + ",".join(f"{k}={v}" for k, v in self.tags) + "}"


class MetricConfig(NamedTuple):
    window_ms: float       # metrics.sample.window.ms
    samples: int           # metrics.num.samples


class _Sample:
    __slots__ = ("start_ms", "count", "value", "initial")

    def __init__(self, initial: float, now: float) -> None:
        self.initial = initial
        self.start_ms = now
        self.count = 0
        self.value = initial

    def reset(self, now: float) -> None:
        self.start_ms = now
        self.count = 0
        self.value = self.initial


class SampledStat:
    """Java ``SampledStat``: a ring of samples, each covering one window."""

    initial = 0.0

    def __init__(self, config: MetricConfig) -> None:
        self.config = config
        self.samples: List[_Sample] = []
        self.current = 0

    def record(self, value: float, now: float) -> None:
        samples = self.samples
        if not samples:
            samples.append(_Sample(self.initial, now))
        sample = samples[self.current]
        if now - sample.start_ms >= self.config.window_ms:      # sample complete: advance
            self.current = (self.current + 1) % self.config.samples
            if self.current >= len(samples):
                sample = _Sample(self.initial, now)
                samples.append(sample)
            else:
                sample = samples[self.current]
                sample.reset(now)
        self.update(sample, value)
        sample.count += 1

    def update(self, sample: _Sample, value: float) -> None:
        raise NotImplementedError

    def purge(self, now: float) -> None:
        """Forget samples older than num.samples windows (Java purgeObsoleteSamples)."""
        expire = self.config.samples * self.config.window_ms
        for sample in self.samples:
            if now - sample.start_ms >= expire:
                sample.reset(now)

    def oldest(self, now: float) -> _Sample:
        if not self.samples:
            self.samples.append(_Sample(self.initial, now))
        return min(self.samples, key=lambda s: s.start_ms)

    def measure(self, now: float) -> float:
        self.purge(now)
        return self.combine(now)

    def combine(self, now: float) -> float:
        raise NotImplementedError


class WindowedSum(SampledStat):
    def update(self, sample: _Sample, value: float) -> None:
        sample.value += value

    def combine(self, now: float) -> float:
        return float(sum(s.value for s in self.samples))


class Avg(SampledStat):
    """Average of the recorded values in the retained samples (NaN without any)."""

    def update(self, sample: _Sample, value: float) -> None:
        sample.value += value

    def combine(self, now: float) -> float:
        count = sum(s.count for s in self.samples)
        return sum(s.value for s in self.samples) / count if count else math.nan


class Max(SampledStat):
    """Largest recorded value in the retained samples (NaN without any)."""

    initial = -math.inf

    def update(self, sample: _Sample, value: float) -> None:
        if value > sample.value:
            sample.value = value

    def combine(self, now: float) -> float:
        count = sum(s.count for s in self.samples)
        return max(s.value for s in self.samples) if count else math.nan


class Rate:
    """Java ``Rate`` (seconds): the windowed sum over the elapsed window, where a young
    stat counts as having at least ``num.samples - 1`` full windows (so the first
    seconds do not report huge rates)."""

    def __init__(self, config: MetricConfig) -> None:
        self.config = config
        self.stat = WindowedSum(config)

    def record(self, value: float, now: float) -> None:
        self.stat.record(value, now)

    def measure(self, now: float) -> float:
        stat = self.stat
        stat.purge(now)
        total = stat.combine(now)
        window = self.config.window_ms
        elapsed = now - stat.oldest(now).start_ms
        full_windows = int(elapsed // window)
        minimum = self.config.samples - 1
        if full_windows < minimum:
            elapsed += (minimum - full_windows) * window
        return total / (max(elapsed, 1.0) / 1000.0)


class CumulativeSum:
    def __init__(self, config: Optional[MetricConfig] = None) -> None:
        self.total = 0.0

    def record(self, value: float, now: float) -> None:
        self.total += value

    def measure(self, now: float) -> float:
        return self.total


class Gauge:
    """A value read when measured (buffer-available-bytes, ...)."""

    def __init__(self, read: Callable[[], float]) -> None:
        self.read = read

    def record(self, value: float, now: float) -> None:   # pragma: no cover - not recorded
        raise TypeError("a gauge is read, not recorded")

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


class Sensor:
    """Records a value into all its stats (Java ``Sensor``), if its level is enabled."""

    __slots__ = ("stats", "enabled", "_clock")

    def __init__(self, enabled: bool, clock: Clock) -> None:
        self.stats: List[Any] = []
        self.enabled = enabled
        self._clock = clock

    def record(self, value: float = 1.0, now: Optional[float] = None) -> None:
        if not self.enabled:
            return
        if now is None:
            now = self._clock()
        for stat in self.stats:
            stat.record(value, now)


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
            sensor = Sensor(LEVELS[level] <= self.level, self.clock)
            self.sensors[name] = sensor
            return sensor, True

    def add(self, sensor: Optional[Sensor], metric_name: MetricName, stat: Any) -> KafkaMetric:
        """Register ``stat`` as ``metric_name`` (recorded by ``sensor``, if given)."""
        metric = KafkaMetric(metric_name, stat, self.clock)
        with self._lock:
            if metric_name in self.metrics:
                raise ValueError(f"metric {metric_name} registered twice")
            self.metrics[metric_name] = metric
            if sensor is not None:
                sensor.stats.append(stat)
        for reporter in self.reporters:
            self._call(reporter, "metric_change", metric)
        return metric

    def remove(self, metric_name: MetricName) -> None:
        with self._lock:
            metric = self.metrics.pop(metric_name, None)
            if metric is None:
                return
            for sensor in self.sensors.values():
                if metric.stat in sensor.stats:
                    sensor.stats.remove(metric.stat)
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
