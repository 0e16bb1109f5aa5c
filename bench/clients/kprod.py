"""kprod runner: ``Producer.send(..., callback=)`` per record, then ``flush()``.

Over TLS it sets ``security.protocol=SSL`` and ``ssl.truststore.location`` (the PEM CA);
with Avro values the producer's ``value.serializer`` is kprod's ``AvroSerializer``.
"""
from __future__ import annotations

import functools
import os
import sys
import time

from bench.clients._common import (
    CUSTOMER_SCHEMA, Latencies, Pacer, Tally, avro_values, cpu_seconds, emit, kprod_config,
    load_spec, records, time_serializer,
)

if os.environ.get("KPROD_BENCH_SRC"):   # harness --kprod-src: another checkout's kprod
    sys.path.insert(0, os.environ["KPROD_BENCH_SRC"])
from kprod.producer import Producer  # noqa: E402


def main() -> None:
    spec = load_spec()
    keys, values = records(spec)
    config = kprod_config(spec)
    serializer = None
    if spec.get("avro"):
        from kprod.schema_registry import AvroSerializer, SchemaRegistryClient
        serializer = AvroSerializer(SchemaRegistryClient(spec["avro"]["registry_url"]),
                                    CUSTOMER_SCHEMA)
        config["value.serializer"] = serializer
        values = avro_values(spec)
        keys = [None] * len(values)
    n, pool = spec["num_records"], len(values)
    producer = Producer(config)
    tally = Tally()
    lat = Latencies(n) if spec["latency"] else None

    def on_ack(metadata, exc):
        if exc is None:
            tally.acked += 1
        else:
            tally.error(exc)

    def on_ack_timed(i, metadata, exc):
        lat.acked[i] = time.perf_counter()
        on_ack(metadata, exc)

    send, topic = producer.send, spec["topic"]
    producer.partitions_for(topic)   # warm-up: metadata and connection before the clock
    serialize_us = None
    if serializer is not None:
        serializer.warm_up(topic)    # register the schema / resolve its id before the clock
        # the serializer alone, called as send() calls it: (topic, value, headers)
        serialize_us = time_serializer(lambda v: serializer(topic, v, None), values)
    pacer = Pacer(spec["rate"])
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    if lat is None and not spec["rate"]:
        for i in range(n):
            j = i % pool
            send(topic, values[j], keys[j], callback=on_ack)
    else:
        for i in range(n):
            pacer.wait(i)
            j = i % pool
            if lat is not None:
                lat.sent[i] = time.perf_counter()
                send(topic, values[j], keys[j], callback=functools.partial(on_ack_timed, i))
            else:
                send(topic, values[j], keys[j], callback=on_ack)
    producer.flush()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    producer.close()
    emit(spec, tally, elapsed, cpu, lat, [], serialize_us=serialize_us)


if __name__ == "__main__":
    main()
