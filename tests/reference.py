"""Produce/consume with confluent-kafka (librdkafka), an independent reference client.

Tests use these to check kprod against a client that shares no code with it (they live
in tests/, not kprod.testing: kprod itself never imports confluent-kafka).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Iterable


def produce(bootstrap_servers: str, topic: str, values: Iterable[bytes | str], *,
            key: bytes | None = None, partition: int | None = None, timeout: float = 30.0,
            **config: Any) -> int:
    """Produce ``values`` with ``acks=all``, wait for every delivery report; return the count.

    Raises ``RuntimeError`` with the first delivery error.
    """
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all",
                         "enable.idempotence": True, **config})
    errors: list[Any] = []
    sent = 0

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(err)

    extra = {} if partition is None else {"partition": partition}
    for value in values:
        producer.produce(topic, value=value, key=key, on_delivery=on_delivery, **extra)
        producer.poll(0)
        sent += 1
    remaining = producer.flush(timeout)
    if remaining:
        raise RuntimeError(f"{remaining} of {sent} records not delivered within {timeout}s")
    if errors:
        raise RuntimeError(f"{len(errors)} delivery errors, first: {errors[0]}")
    return sent


def consume(bootstrap_servers: str, topic: str, count: int, *, timeout: float = 30.0,
            **config: Any) -> list[Any]:
    """Read ``count`` records of ``topic`` from the beginning (fresh group); return the messages.

    Raises ``TimeoutError`` if fewer arrive within ``timeout``.
    """
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap_servers,
                         "group.id": f"kprod-ref-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed", **config})
    messages: list[Any] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            for msg in consumer.consume(min(500, count - len(messages)), timeout=0.5):
                if msg.error() is None:
                    messages.append(msg)
        if len(messages) < count:
            raise TimeoutError(
                f"got {len(messages)} of {count} records from {topic!r} in {timeout}s")
        return messages
    finally:
        consumer.close()
