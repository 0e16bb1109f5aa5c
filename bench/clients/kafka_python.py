"""kafka-python runner: ``send()`` + ``add_both()`` per record, then ``flush()``.

Settings: bench.clients.settings.kafka_python_config."""
from __future__ import annotations

import functools
import time

from kafka import KafkaProducer

from bench.clients._common import Clock, Latencies, Pacer, Tally, emit, load_spec, records
from bench.clients.settings import kafka_python_config


def main() -> None:
    spec = load_spec()
    keys, values, headers = records(spec)
    n, pool = spec["num_records"], len(values)
    producer = KafkaProducer(**kafka_python_config(spec))
    tally, warm = Tally(), Tally()
    lat = Latencies(n) if spec["latency"] else None

    def count(t, result):   # RecordMetadata or the exception
        if isinstance(result, Exception):
            t.error(result)
        else:
            t.acked += 1

    on_done = functools.partial(count, tally)

    def on_done_timed(i, result):
        lat.acked[i] = time.perf_counter()
        on_done(result)

    send, topic = producer.send, spec["topic"]
    # warm-up: one record sent and flushed (metadata, connection, producer id)
    send(topic, values[0], keys[0], headers=headers[0]).add_both(functools.partial(count, warm))
    producer.flush()
    clock = Clock()
    pacer = Pacer(spec["rate"])
    clock.start()
    for i in range(n):
        pacer.wait(i)
        j = i % pool
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            send(topic, values[j], keys[j], headers=headers[j]).add_both(on_done_timed, i)
        else:
            send(topic, values[j], keys[j], headers=headers[j]).add_both(on_done)
    producer.flush()
    elapsed, cpu = clock.stop()
    producer.close()
    emit(spec, tally, elapsed, cpu, lat, [], warmup_acked=warm.acked, clock=clock)


if __name__ == "__main__":
    main()
