"""confluent-kafka (librdkafka) runner: ``produce(on_delivery=)``, ``poll()``, ``flush()``.

Delivery callbacks only run inside poll()/flush(): the throughput loop polls every
256 records; the paced loop sleeps *in* poll() so latency isn't inflated by the loop.
Over TLS: ``security.protocol=SSL``, ``ssl.ca.location`` (the PEM CA). Avro values go
through ``SerializingProducer`` with ``confluent_kafka.schema_registry.avro.AvroSerializer``.
"""
from __future__ import annotations

import functools
import json
import time

from confluent_kafka import KafkaException, Producer

from bench.clients._common import (
    CUSTOMER_SCHEMA, Latencies, Pacer, Tally, avro_values, cpu_seconds, emit, load_spec, records,
    time_serializer,
)


def main() -> None:
    spec = load_spec()
    keys, values = records(spec)
    config = {
        "bootstrap.servers": spec["bootstrap"], "acks": spec["acks"],
        "compression.type": spec["compression"], "enable.idempotence": spec["idempotence"],
        # librdkafka's batch.size caps a MessageSet's bytes, like Java's batch.size
        "batch.size": spec["batch_size"], "linger.ms": spec["linger_ms"]}
    if spec.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
        config["security.protocol"] = spec["security_protocol"]
        config["ssl.ca.location"] = spec["ssl_ca"]
    # produce(topic, first[j], second[j]): Producer takes (value, key), SerializingProducer
    # (key, value); swapping the pools keeps one positional loop for both.
    first, second = values, keys
    context = None   # Avro: the SerializationContext to register the schema with
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
        context = SerializationContext(spec["topic"], MessageField.VALUE)
    else:
        producer = Producer(config)
    n, pool = spec["num_records"], len(first)
    tally = Tally()
    lat = Latencies(n) if spec["latency"] else None
    full = 0   # BufferError retries (SerializingProducer serializes the record again)

    def on_delivery(err, msg):
        if err is None:
            tally.acked += 1
        else:
            tally.error(KafkaException(err))

    def on_delivery_timed(i, err, msg):
        lat.acked[i] = time.perf_counter()
        on_delivery(err, msg)

    produce, poll, topic = producer.produce, producer.poll, spec["topic"]
    producer.list_topics(topic, timeout=30)   # warm-up: metadata and connection
    serialize_us = None
    if context is not None:   # register the schema / cache its id before the clock
        serializer(second[0], context)
        # the serializer alone, called as SerializingProducer.produce() calls it: a new
        # SerializationContext(topic, VALUE, headers) per record
        serialize_us = time_serializer(
            lambda v: serializer(v, SerializationContext(topic, MessageField.VALUE, None)),
            second)
    pacer = Pacer(spec["rate"], sleep=poll)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(n):
        pacer.wait(i)
        j = i % pool
        cb = on_delivery
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            cb = functools.partial(on_delivery_timed, i)
        while True:
            try:
                produce(topic, first[j], second[j], on_delivery=cb)
                break
            except BufferError:   # local queue full: serve delivery reports, retry
                full += 1
                poll(0.001)
        if lat is not None or not i & 255:
            poll(0)
    producer.flush()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    notes = ["local queue was full at times: a retried produce() serialized the record "
             "again"] if full and context is not None else []
    emit(spec, tally, elapsed, cpu, lat, notes, serialize_us=serialize_us)


if __name__ == "__main__":
    main()
