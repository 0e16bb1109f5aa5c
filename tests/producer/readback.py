"""Read topics back with an independent client (confluent-kafka / librdkafka).

Never kprod's own reader: these helpers are the oracle the producer tests
compare against.
"""
from __future__ import annotations

import time
from typing import Dict, List, NamedTuple, Optional, Tuple

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


class Message(NamedTuple):
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: Optional[List[Tuple[str, Optional[bytes]]]]
    timestamp_type: int          # confluent_kafka.TIMESTAMP_CREATE_TIME / _LOG_APPEND_TIME
    timestamp: int


_group = iter(range(1, 1 << 30))


def _consumer(bootstrap: str) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"kprod-readback-{time.monotonic_ns()}-{next(_group)}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
    })


def end_offsets(bootstrap: str, topic: str, timeout: float = 20.0) -> Dict[int, int]:
    """High watermark of every partition of ``topic``."""
    c = _consumer(bootstrap)
    try:
        md = c.list_topics(topic, timeout=timeout)
        parts = sorted(md.topics[topic].partitions)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                for p in parts}
    finally:
        c.close()


def read_all(bootstrap: str, topic: str, expected: Optional[int] = None,
             timeout: float = 60.0, raw_values: bool = True) -> List[Message]:
    """Every record of ``topic`` (all partitions, from the beginning), in per-partition
    offset order. Reads up to the high watermarks at call time, or until ``expected``
    records arrived (whichever needs more), failing after ``timeout`` s."""
    c = _consumer(bootstrap)
    try:
        md = c.list_topics(topic, timeout=20)
        parts = sorted(md.topics[topic].partitions)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
                for p in parts}
        # The log start may be > 0 only if something deleted data; we never do.
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        out: List[Message] = []
        positions = {p: 0 for p in parts}
        deadline = time.monotonic() + timeout

        def done() -> bool:
            if expected is not None and len(out) < expected:
                return False
            return all(positions[p] >= ends[p] for p in parts)

        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"read back of {topic} timed out: {len(out)} records (expected "
                    f"{expected}), positions {positions}, ends {ends}")
            for msg in c.consume(num_messages=10000, timeout=0.5):
                if msg.error():
                    raise AssertionError(f"consumer error: {msg.error()}")
                ts_type, ts = msg.timestamp()
                out.append(Message(msg.partition(), msg.offset(), msg.key(), msg.value(),
                                   msg.headers(), ts_type, ts))
                positions[msg.partition()] = msg.offset() + 1
        out.sort(key=lambda m: (m.partition, m.offset))
        return out
    finally:
        c.close()


def by_partition(messages: List[Message]) -> Dict[int, List[Message]]:
    result: Dict[int, List[Message]] = {}
    for m in messages:
        result.setdefault(m.partition, []).append(m)
    return result


PROBE = b"__kprod_probe__"


def wait_writable(bootstrap: str, topic: str, partitions: int) -> None:
    """Write one probe record (value PROBE) to every partition with acks=all and wait.

    Right after creation a broker may still answer NOT_LEADER_OR_FOLLOWER for a
    moment; acks=0 producers can't see that (the broker just drops the connection),
    so tests that use acks=0 first make sure every partition accepts writes.
    """
    from kprod.producer import Producer
    with Producer({"bootstrap.servers": bootstrap, "linger.ms": 0}) as p:
        for f in [p.send(topic, PROBE, partition=i) for i in range(partitions)]:
            f.get(30)


def without_probes(messages: List[Message]) -> List[Message]:
    return [m for m in messages if m.value != PROBE]
