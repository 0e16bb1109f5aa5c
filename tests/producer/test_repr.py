"""What a producer and a future show when printed (Java's toString, more or less)."""
from __future__ import annotations

import time

from kprod.errors import InvalidTimestampError
from kprod.producer import Producer

from .readback import read_all


def test_producer_repr_shows_client_id_bootstrap_and_state(kafka):
    producer = Producer(bootstrap_servers=kafka.bootstrap_servers, client_id="orders-api",
                        transactional_id="orders-tx")
    text = repr(producer)
    assert text == (f"<kprod.Producer client.id='orders-api' "
                    f"bootstrap.servers='{kafka.bootstrap_servers}' "
                    f"transactional.id='orders-tx' open>")
    producer.close(10)
    assert repr(producer).endswith(" closed>")
    plain = Producer(bootstrap_servers=kafka.bootstrap_servers)
    assert "transactional.id" not in repr(plain) and "client.id='producer-" in repr(plain)
    plain.close(10)


def test_future_repr_pending_then_offset(kafka, make_topic):
    topic = make_topic(partitions=2)
    with Producer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=600_000) as producer:
        future = producer.send(topic, b"later", partition=1)
        assert repr(future) == f"<RecordFuture pending {topic}-1>"   # lingering until flush
        producer.send(topic, b"second", partition=1)
        producer.flush(60)
        assert repr(future) == f"<RecordFuture done {topic}-1@0>"
    [first, second] = read_all(kafka.bootstrap_servers, topic, expected=2)
    assert (first.partition, first.offset, first.value) == (1, 0, b"later")
    assert (second.partition, second.offset) == (1, 1)


def test_future_repr_shows_the_error(kafka, make_topic):
    topic = make_topic(configs={"message.timestamp.before.max.ms": "3600000"})
    with Producer(bootstrap_servers=kafka.bootstrap_servers) as producer:
        future = producer.send(topic, b"old", timestamp=int(time.time() * 1000) - 86_400_000)
        error = future.exception(60)
        assert isinstance(error, InvalidTimestampError)
        assert repr(future) == f"<RecordFuture failed {topic}-0: {error!r}>"
        assert "INVALID_TIMESTAMP" in repr(future)
