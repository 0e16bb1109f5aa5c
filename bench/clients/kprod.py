"""kprod runner: ``Producer.send(..., callback=)`` per record, then ``flush()``; in the
bulk-* scenarios one ``send_many()`` of numpy / Arrow columns instead.

Settings: bench.clients.settings.kprod_config. With Avro values the producer's
``value.serializer`` is kprod's ``AvroSerializer``.
"""
from __future__ import annotations

import os
import sys
import time

from bench.clients._common import (
    CUSTOMER_SCHEMA, Clock, DeliveryCallbacks, Latencies, Tally, avro_values,
    callback_send_loop, emit, load_spec, records, time_serializer,
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
    n = spec["num_records"]
    producer = Producer(config)
    tally, warm = Tally(), Tally()
    lat = Latencies(n) if spec["latency"] else None
    callbacks = DeliveryCallbacks(tally, lat)
    send, topic = producer.send, spec["topic"]
    # warm-up: one record sent and flushed (metadata, connection, producer id)
    send(topic, values[0], keys[0], headers=headers[0], callback=callbacks.warm(warm))
    producer.flush()
    serialize_us = None
    if serializer is not None:   # the schema id is resolved by the warm-up record
        # the serializer alone, called as send() calls it: (topic, value, headers)
        serialize_us = time_serializer(lambda v: serializer(topic, v, None), values)
    if spec.get("bulk"):
        run_bulk(spec, producer, keys, values, tally, warm, serialize_us)
        return
    clock = Clock()
    clock.start()
    callback_send_loop(spec, send, keys, values, headers, lat, callbacks)
    producer.flush()
    elapsed, cpu = clock.stop()
    producer.close()
    emit(spec, tally, elapsed, cpu, lat, [], serialize_us=serialize_us, warmup_acked=warm.acked,
         clock=clock)


def columns(kind: str, items: list, n: int):
    """``n`` records cycling ``items`` (equal-length bytes) as one numpy or Arrow column,
    built before the clock."""
    import numpy as np
    pool = np.array(items, dtype=f"S{len(items[0])}")
    assert all(len(item) == len(items[0]) and not item.endswith(b"\0") for item in items)
    column = np.resize(pool, n)          # cycled, as the per-record loop cycles them
    if kind == "numpy":
        return column
    import pyarrow as pa
    width = column.dtype.itemsize
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(column)])


def run_bulk(spec, producer, keys, values, tally, warm, serialize_us) -> None:
    """One send_many() of all the records (the bulk-* scenarios), then flush(); the
    time send_many() takes to queue them (the enqueue rate) goes into the notes. Before
    the clock, after the first record, ``warmup_records - 1`` more in one send_many()."""
    n, topic = spec["num_records"], spec["topic"]

    def column_pair(count):
        return (columns(spec["bulk"], values, count),
                columns(spec["bulk"], keys, count) if spec["key_size"] else None)

    def add_up(t, metadata):
        t.acked += len(metadata) - len(metadata.errors)
        for _, error in metadata.errors:
            t.error(error)

    # warm-up on top of the first record: a buffer.memory's worth through send_many
    # (settings.bulk_warmup_records), so that the clock starts with the pool in use
    more = spec.get("warmup_records", 1) - 1
    if more > 0:
        warm_values, warm_keys = column_pair(more)
        add_up(warm, producer.send_many(topic, warm_values, keys=warm_keys).get(60))
        del warm_values, warm_keys
    value_column, key_column = column_pair(n)
    # One callback for the call, as a user would have; the tally is taken from get()'s
    # metadata (the callback runs on the I/O thread, maybe after get() returns).
    reported = []

    clock = Clock()
    clock.start()
    t0 = time.perf_counter()
    future = producer.send_many(topic, value_column, keys=key_column,
                                callback=lambda metadata, exc: reported.append(exc))
    queued = time.perf_counter() - t0
    producer.flush()
    elapsed, cpu = clock.stop()
    add_up(tally, future.get(60))
    producer.close()
    notes = [f"send_many queued {n} records in {queued * 1e3:.0f} ms "
             f"({n / queued / 1e6:.1f} M records/s enqueue)"]
    emit(spec, tally, elapsed, cpu, None, notes, serialize_us=serialize_us,
         warmup_acked=warm.acked, clock=clock)


if __name__ == "__main__":
    main()
