"""Metrics: Java's SampledStat windows, metric names and groups, reporters' life cycle."""
import math

import pytest

from kprod._internals.metrics import ProducerMetrics
from kprod._internals.stats import Avg, CumulativeSum, Max, MetricConfig, MetricName, Rate
from kprod._native.stats import Samples

from .fakes import ManualClock


def test_rate_is_over_the_retained_windows_not_the_whole_life():
    samples = Samples(1000, 2)
    rate = Rate(samples)
    samples.record(100, 0)
    # A young stat counts as (samples - 1) = 1 full window: 100 events / 1 s.
    assert rate.measure(0) == pytest.approx(100.0)
    samples.record(100, 1500)       # second sample; the window is now 1.5 s long
    assert rate.measure(1500) == pytest.approx(200 / 1.5)
    # At 2000 ms the first sample (started at 0) is 2 windows old: purged. The second
    # (1500 ms) is 0.5 s old, padded to the one full window a young stat counts.
    assert rate.measure(2000) == pytest.approx(100 / 1.5)
    assert rate.measure(10000) == 0.0      # nothing recent: the rate falls to 0
    assert CumulativeSum(samples).measure(10000) == 200


def test_samples_are_reused_in_a_ring():
    samples = Samples(100, 3)
    for t in range(0, 1000, 10):           # 1 event every 10 ms
        samples.record(1, t)
    assert samples.sample_count() == 3
    assert Rate(samples).measure(990) == pytest.approx(100.0, rel=0.15)   # ~100 events/s


def test_avg_and_max_are_windowed_and_nan_when_empty():
    samples = Samples(1000, 2)
    avg, biggest = Avg(samples), Max(samples)
    assert math.isnan(avg.measure(0)) and math.isnan(biggest.measure(0))
    for value, t in ((10, 0), (30, 100), (500, 1200)):
        samples.record(value, t)
    assert avg.measure(1200) == pytest.approx(180.0)
    assert biggest.measure(1200) == 500
    samples.record(2, 2300)           # the samples of 0 and 1200 ms age out in turn
    assert avg.measure(2300) == pytest.approx(251.0)
    assert avg.measure(3250) == pytest.approx(2.0) and biggest.measure(3250) == 2
    assert math.isnan(avg.measure(9000))


def test_samples_refuse_an_empty_ring():
    with pytest.raises(ValueError):
        Samples(0, 2)
    with pytest.raises(ValueError):
        Samples(1000, 0)


class Reporter:
    def __init__(self):
        self.events = []

    def init(self, metrics):
        self.events.append(("init", list(metrics)))

    def metric_change(self, metric):
        self.events.append(("change", metric.metric_name))

    def metric_removal(self, metric):
        self.events.append(("removal", metric.metric_name))

    def close(self):
        self.events.append(("close",))


def test_producer_metrics_names_groups_and_reporters():
    clock = ManualClock()
    reporter = Reporter()
    metrics = ProducerMetrics(MetricConfig(30000, 2), "INFO", [reporter], clock)
    assert reporter.events[0] == ("init", [])
    names = {e[1] for e in reporter.events if e[0] == "change"}
    assert MetricName("record-send-rate", "producer-metrics", "records sent per second") \
        in names
    assert {"produce-throttle-time-avg", "produce-throttle-time-max", "record-size-avg",
            "record-size-max"} <= {n.name for n in names}
    metrics.record_batch("orders", 10, 1000, 120, True, 3.0, 0.5)
    metrics.record_batch("orders", 5, 400, 300, False)
    metrics.record_request(15)
    metrics.record_throttle(0)
    metrics.record_throttle(40)
    metrics.record_error("orders", 2)
    metrics.record_latency(7.0, node_id=1)
    topic_names = {e[1] for e in reporter.events if e[0] == "change"} - names
    assert MetricName("byte-rate", "producer-topic-metrics", "bytes sent per second",
                      (("topic", "orders"),)) in topic_names
    values = metrics.snapshot()
    assert values["record-send-total"] == 15 and values["records-per-request-avg"] == 15
    assert values["record-send-total{topic=orders}"] == 15
    assert values["byte-total{topic=orders}"] == 1400
    assert values["record-error-total{topic=orders}"] == 2
    assert values["record-size-max"] == 300 and values["record-size-avg"] == 210
    assert values["produce-throttle-time-avg"] == 20 and values["produce-throttle-time-max"] == 40
    assert values["record-queue-time-avg"] == 3.0          # first attempts only
    assert values["compression-rate{topic=orders}"] == 0.5
    # producer-node-metrics are INFO level too (Java's Selector registers them so).
    assert values["request-latency-avg{node-id=node-1}"] == 7.0
    metrics.close()
    assert reporter.events[-1] == ("close",)


def test_node_metrics_are_recorded_at_every_level():
    metrics = ProducerMetrics(MetricConfig(30000, 2), "INFO", (), ManualClock())
    metrics.record_latency(7.0, node_id=2)
    metrics.record_latency(9.0, node_id=2)
    values = metrics.snapshot()
    assert values["request-latency-avg{node-id=node-2}"] == 8.0
    assert values["request-latency-max{node-id=node-2}"] == 9.0


def test_a_failing_reporter_is_logged_not_raised(caplog):
    class Broken(Reporter):
        def metric_change(self, metric):
            raise RuntimeError("boom")

    metrics = ProducerMetrics(MetricConfig(30000, 2), "INFO", [Broken()], ManualClock())
    metrics.record_error("t", 1)
    assert metrics.snapshot()["record-error-total"] == 1
    assert "boom" in caplog.text
    metrics.registry.remove(MetricName("record-error-total", "producer-metrics",
                                       "failed records"))
    assert "record-error-total" not in metrics.snapshot()
