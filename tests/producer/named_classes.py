"""Classes the producer tests name as "module.Class" strings (Java's class-name settings)."""
from __future__ import annotations

from kprod.record import ProducerRecord


class LastPartition:
    """Every record to the topic's last partition."""

    def partition(self, topic, key, key_bytes, value, value_bytes, cluster):
        return len(cluster.partitions_for_topic(topic)) - 1


class UpperSerializer:
    def serialize(self, topic, data, headers=None):
        return data.upper().encode()


class TagInterceptor:
    """Adds a header naming this class, so the read-back shows it ran."""

    def on_send(self, record: ProducerRecord) -> ProducerRecord:
        return record._replace(headers=list(record.headers or []) + [("via", b"TagInterceptor")])

    def on_acknowledgement(self, metadata, exception):
        pass


class SuffixInterceptor:
    def on_send(self, record: ProducerRecord) -> ProducerRecord:
        return record._replace(value=record.value + "+suffix")   # before serialization, as in Java

    def on_acknowledgement(self, metadata, exception):
        pass


class NeedsArguments:
    def __init__(self, required):
        self.required = required

    def partition(self, topic, key, key_bytes, value, value_bytes, cluster):
        return 0


class NoPartitionMethod:
    pass


not_a_class = LastPartition()
