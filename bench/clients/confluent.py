"""confluent-kafka (librdkafka) runner: ``produce(on_delivery=)``, ``poll()``, ``flush()``;
in the bulk-* scenarios ``produce_batch()`` instead, confluent-kafka's own bulk call.

Delivery callbacks only run inside poll()/flush(): the throughput loop polls every
256 records; the paced loop sleeps *in* poll() so latency isn't inflated by the loop.
Settings: bench.clients.settings.confluent_config. Avro values go through
``SerializingProducer`` with ``confluent_kafka.schema_registry.avro.AvroSerializer``.
"""
from __future__ import annotations

import functools
import json
import time

from confluent_kafka import KafkaError, KafkaException, Producer

from bench.clients._common import (
    CUSTOMER_SCHEMA, Clock, Latencies, Pacer, Tally, avro_values, emit, load_spec, records,
    time_serializer,
)
from bench.clients.settings import confluent_config


def main() -> None:
    spec = load_spec()
    keys, values, headers = records(spec)
    config = confluent_config(spec)
    # produce(topic, first[j], second[j]): Producer takes (value, key), SerializingProducer
    # (key, value); swapping the pools keeps one positional loop for both.
    first, second = values, keys
    context = None   # Avro: the SerializationContext to time the serializer with
    if spec.get("avro"):
        from confluent_kafka import SerializingProducer
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext
        registry = SchemaRegistryClient({"url": spec["avro"]["registry_url"]})
        serializer = AvroSerializer(registry, json.dumps(CUSTOMER_SCHEMA))
        config["value.serializer"] = serializer
        producer = SerializingProducer(config)
        second = avro_values(spec)
        first = [None] * len(second)
        headers = [None] * len(second)
        context = SerializationContext(spec["topic"], MessageField.VALUE)
    else:
        producer = Producer(config)
    n, pool = spec["num_records"], len(first)
    tally, warm = Tally(), Tally()
    lat = Latencies(n) if spec["latency"] else None
    full = 0   # BufferError retries (SerializingProducer serializes the record again)

    on_delivery = functools.partial(count, tally)

    def on_delivery_timed(i, err, msg):
        lat.acked[i] = time.perf_counter()
        on_delivery(err, msg)

    produce, poll, topic = producer.produce, producer.poll, spec["topic"]
    # warm-up: one record sent and flushed (metadata, connection, producer id; Avro: the
    # schema is registered and its id cached)
    produce(topic, first[0], second[0], headers=headers[0],
            on_delivery=functools.partial(count, warm))
    producer.flush()
    if spec.get("bulk"):
        run_bulk(spec, producer, keys, values, tally, warm, on_delivery)
        return
    serialize_us = None
    if context is not None:
        # the serializer alone, called as SerializingProducer.produce() calls it: a new
        # SerializationContext(topic, VALUE, headers) per record
        serialize_us = time_serializer(
            lambda v: serializer(v, SerializationContext(topic, MessageField.VALUE, None)),
            second)
    clock = Clock()
    pacer = Pacer(spec["rate"], sleep=poll)
    clock.start()
    for i in range(n):
        pacer.wait(i)
        j = i % pool
        cb = on_delivery
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            cb = functools.partial(on_delivery_timed, i)
        while True:
            try:
                produce(topic, first[j], second[j], headers=headers[j], on_delivery=cb)
                break
            except BufferError:   # local queue full: serve delivery reports, retry
                full += 1
                poll(0.001)
        if lat is not None or not i & 255:
            poll(0)
    producer.flush()
    elapsed, cpu = clock.stop()
    notes = ["local queue was full at times: a retried produce() serialized the record "
             "again"] if full and context is not None else []
    emit(spec, tally, elapsed, cpu, lat, notes, serialize_us=serialize_us,
         warmup_acked=warm.acked, clock=clock)


# Records per produce_batch() call: librdkafka queues what fits in its buffer
# (queue.buffering.max.kbytes) and marks the rest with '_error'; smaller calls retry less.
BULK_CHUNK = 10_000


def count(t, err, msg):
    """A delivery report into tally ``t``."""
    if err is None:
        t.acked += 1
    else:
        t.error(KafkaException(err))


def run_bulk(spec, producer, keys, values, tally, warm, on_delivery) -> None:
    """The bulk-* scenarios: the records as produce_batch() message dicts (built before
    the clock, as kprod's runner builds its columns), queued BULK_CHUNK at a time; what
    the full local queue refused is retried after a poll(). One delivery callback per
    record: produce_batch has no other way to report outcomes. Before the clock, after
    the first record, ``warmup_records - 1`` more the same way."""
    pool, topic = len(values), spec["topic"]

    def chunks(n):
        messages = [{"value": values[i % pool]} if keys[0] is None else
                    {"value": values[i % pool], "key": keys[i % pool]} for i in range(n)]
        return [messages[i:i + BULK_CHUNK] for i in range(0, n, BULK_CHUNK)]

    more = spec.get("warmup_records", 1) - 1
    if more > 0:
        produce_all(producer, topic, chunks(more), functools.partial(count, warm), warm)
        producer.flush()
    timed = chunks(spec["num_records"])
    clock = Clock()
    clock.start()
    refused = produce_all(producer, topic, timed, on_delivery, tally)
    producer.flush()
    elapsed, cpu = clock.stop()
    notes = [f"produce_batch of {BULK_CHUNK} records per call; {refused} refused by the "
             "full local queue and queued again"]
    emit(spec, tally, elapsed, cpu, None, notes, warmup_acked=warm.acked,
         clock=clock)


def produce_all(producer, topic, chunks, on_delivery, tally) -> int:
    """produce_batch() each chunk of messages, retrying what the full local queue
    refused after a poll(); returns how many were refused and queued again."""
    produce_batch, poll = producer.produce_batch, producer.poll
    refused = 0
    for chunk in chunks:
        while chunk:
            if produce_batch(topic, chunk, on_delivery=on_delivery) == len(chunk):
                break
            failed = [(m, m.pop("_error")) for m in chunk if "_error" in m]
            for _, error in failed:
                if error.code() != KafkaError._QUEUE_FULL:
                    tally.error(KafkaException(error))
            chunk = [m for m, error in failed if error.code() == KafkaError._QUEUE_FULL]
            refused += len(chunk)
            poll(0.001)           # the queue is full: serve delivery reports, retry
        poll(0)
    return refused

if __name__ == "__main__":
    main()
