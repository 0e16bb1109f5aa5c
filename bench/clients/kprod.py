"""kprod runner: ``Producer.send(..., callback=)`` per record, then ``flush()``.

Settings: bench.clients.settings.kprod_config. With Avro values the producer's
``value.serializer`` is kprod's ``AvroSerializer``.
"""
from __future__ import annotations

import functools
import os
import sys
import time

from bench.clients._common import (
    CUSTOMER_SCHEMA, Clock, Latencies, Pacer, Tally, avro_values, emit, load_spec, records,
    time_serializer,
)
from bench.clients.settings import kprod_config

if os.environ.get("KPROD_BENCH_SRC"):   # harness --kprod-src: another checkout's kprod
    sys.path.insert(0, os.environ["KPROD_BENCH_SRC"])
from kprod import Producer  # noqa: E402


def main() -> None:
    spec = load_spec()
    keys, values, headers = records(spec)
    config = kprod_config(spec)
    serializer = None
    if spec.get("avro"):
        from kprod.schema_registry import AvroSerializer, SchemaRegistryClient
        serializer = AvroSerializer(SchemaRegistryClient(spec["avro"]["registry_url"]),
                                    CUSTOMER_SCHEMA)
        config["value.serializer"] = serializer
        values = avro_values(spec)
        keys = [None] * len(values)
        headers = [None] * len(values)
    n, pool = spec["num_records"], len(values)
    producer = Producer(config)
    tally, warm = Tally(), Tally()
    lat = Latencies(n) if spec["latency"] else None

    def count(t, metadata, exc):
        if exc is None:
            t.acked += 1
        else:
            t.error(exc)

    on_ack = functools.partial(count, tally)

    def on_ack_timed(i, metadata, exc):
        lat.acked[i] = time.perf_counter()
        on_ack(metadata, exc)

    send, topic = producer.send, spec["topic"]
    # warm-up: one record sent and flushed (metadata, connection, producer id)
    send(topic, values[0], keys[0], headers=headers[0], callback=functools.partial(count, warm))
    producer.flush()
    serialize_us = None
    if serializer is not None:   # the schema id is resolved by the warm-up record
        # the serializer alone, called as send() calls it: (topic, value, headers)
        serialize_us = time_serializer(lambda v: serializer(topic, v, None), values)
    clock = Clock()
    pacer = Pacer(spec["rate"])
    clock.start()
    if lat is None and not spec["rate"]:
        for i in range(n):
            j = i % pool
            send(topic, values[j], keys[j], headers=headers[j], callback=on_ack)
    else:
        for i in range(n):
            pacer.wait(i)
            j = i % pool
            if lat is not None:
                lat.sent[i] = time.perf_counter()
                send(topic, values[j], keys[j], headers=headers[j],
                     callback=functools.partial(on_ack_timed, i))
            else:
                send(topic, values[j], keys[j], headers=headers[j], callback=on_ack)
    producer.flush()
    elapsed, cpu = clock.stop()
    producer.close()
    emit(spec, tally, elapsed, cpu, lat, [], serialize_us=serialize_us, warmup_acked=warm.acked)


if __name__ == "__main__":
    main()
