"""Helpers for the transaction integration tests: an independent read_committed reader
(confluent-kafka) and committed consumer-group offsets."""
from __future__ import annotations

import time
import uuid
from typing import Dict, List, Tuple

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

Record = Tuple[str, int, int, bytes, bytes]     # topic, partition, offset, key, value


def read_committed(bootstrap: str, topics: List[str], timeout: float = 60.0,
                   isolation: str = "read_committed") -> List[Record]:
    """Every visible record of ``topics`` (read_committed: up to the last stable offset),
    sorted by (topic, partition, offset). Reads until each partition's position reaches
    the end offset librdkafka reports for the isolation level, so an open transaction
    blocks the read (on purpose: the caller must have ended all transactions)."""
    c = Consumer({"bootstrap.servers": bootstrap,
                  "group.id": f"kprod-txn-read-{uuid.uuid4().hex[:8]}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "enable.partition.eof": True, "isolation.level": isolation})
    try:
        parts = []
        for topic in topics:
            md = c.list_topics(topic, timeout=20)
            parts += [(topic, p) for p in sorted(md.topics[topic].partitions)]
        c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in parts])
        out: List[Record] = []
        eof = set()
        deadline = time.monotonic() + timeout
        while len(eof) < len(parts):
            if time.monotonic() > deadline:
                raise AssertionError(f"read_committed of {topics} timed out: {len(out)} "
                                     f"records, at EOF: {sorted(eof)} of {parts}")
            for msg in c.consume(num_messages=10000, timeout=0.5):
                err = msg.error()
                tp = (msg.topic(), msg.partition())
                if err is not None:
                    if err.code() == -191:          # _PARTITION_EOF
                        eof.add(tp)
                        continue
                    raise AssertionError(f"consumer error: {err}")
                eof.discard(tp)
                out.append((msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value()))
        out.sort(key=lambda r: (r[0], r[1], r[2]))
        return out
    finally:
        c.close()


def committed_offsets(bootstrap: str, group: str, partitions: List[Tuple[str, int]],
                      timeout: float = 20.0) -> Dict[Tuple[str, int], int]:
    """The group's committed offsets (-1001 = none), read with confluent-kafka."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        tps = c.committed([TopicPartition(t, p) for t, p in partitions], timeout=timeout)
        return {(tp.topic, tp.partition): tp.offset for tp in tps}
    finally:
        c.close()
