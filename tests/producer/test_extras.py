"""Interceptors, adaptive partitioning weights, unsupported security settings."""
from __future__ import annotations

import random
import threading

import pytest

from kprod._native.partition import PartitionChooser
from kprod.errors import ConfigError
from kprod.producer import Producer
from kprod.record import ProducerRecord


class Recorder:
    def __init__(self):
        self.sent = []
        self.acks = []
        self.closed = False
        self.threads = set()

    def on_send(self, record: ProducerRecord) -> ProducerRecord:
        self.sent.append(record.value)
        return record._replace(value=record.value + b"!")   # interceptors may rewrite

    def on_acknowledgement(self, metadata, exception):
        self.acks.append((metadata, exception))
        self.threads.add(threading.current_thread().name)

    def close(self):
        self.closed = True


def test_interceptors_see_every_record_and_outcome(make_topic, make_producer):
    topic = make_topic()
    recorder = Recorder()
    producer = make_producer(interceptor_classes=[recorder])
    futures = [producer.send(topic, b"v%d" % i) for i in range(20)]
    producer.flush(30)
    assert recorder.sent == [b"v%d" % i for i in range(20)]
    assert all(f.get(0).serialized_value_size == len(b"v%d!" % i)
               for i, f in enumerate(futures))
    assert len(recorder.acks) == 20 and all(exc is None for _, exc in recorder.acks)
    assert recorder.threads == {"kprod-sender"}
    producer.close(10)
    assert recorder.closed


def test_interceptor_without_methods_is_a_config_error(kafka):
    with pytest.raises(ConfigError, match="interceptor.classes"):
        Producer(bootstrap_servers=kafka.bootstrap_servers, interceptor_classes=[object()])


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
def test_sasl_without_credentials_is_refused_at_construction(protocol):
    # TLS/SASL are supported (tests/security); unusable settings fail fast.
    with pytest.raises(ConfigError, match="sasl"):
        Producer(bootstrap_servers="127.0.0.1:9", security_protocol=protocol,
                 sasl_mechanism="PLAIN")


def test_adaptive_weights_favour_short_queues():
    partitioner = PartitionChooser(16384, rng=random.Random(7))
    state = partitioner.state("t")
    # partition 0 has a long queue, 1 and 2 short ones: weights max+1-q = 1, 9, 9
    PartitionChooser.update_load_stats(state, [0, 1, 2], [8, 0, 0], 3)
    picks = [partitioner.next_partition(state, 3, [0, 1, 2]) for _ in range(3000)]
    share = picks.count(0) / len(picks)
    assert 0.02 < share < 0.10          # expected 1/19
    # equal queues and nothing excluded: uniform again
    PartitionChooser.update_load_stats(state, [0, 1, 2], [3, 3, 3], 3)
    assert state.cumulative_weights is None
    # an excluded (unavailable) partition is never picked
    PartitionChooser.update_load_stats(state, [1, 2], [0, 0], 3)
    assert {partitioner.next_partition(state, 3, [0, 1, 2]) for _ in range(300)} == {1, 2}
