"""confluent-kafka (librdkafka) runner: ``produce(on_delivery=)``, ``poll()``, ``flush()``.

Delivery callbacks only run inside poll()/flush(): the throughput loop polls every
256 records; the paced loop sleeps *in* poll() so latency isn't inflated by the loop.
"""
from __future__ import annotations

import functools
import time

from confluent_kafka import KafkaException, Producer

from bench.clients._common import Latencies, Pacer, Tally, cpu_seconds, emit, load_spec, records


def main() -> None:
    spec = load_spec()
    keys, values = records(spec)
    n, pool = spec["num_records"], len(values)
    producer = Producer({
        "bootstrap.servers": spec["bootstrap"], "acks": spec["acks"],
        "compression.type": spec["compression"], "enable.idempotence": spec["idempotence"],
        # librdkafka's batch.size caps a MessageSet's bytes, like Java's batch.size
        "batch.size": spec["batch_size"], "linger.ms": spec["linger_ms"]})
    tally = Tally()
    lat = Latencies(n) if spec["latency"] else None

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
                produce(topic, values[j], keys[j], on_delivery=cb)
                break
            except BufferError:   # local queue full: serve delivery reports, retry
                poll(0.001)
        if lat is not None or not i & 255:
            poll(0)
    producer.flush()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    emit(spec, tally, elapsed, cpu, lat, [])


if __name__ == "__main__":
    main()
