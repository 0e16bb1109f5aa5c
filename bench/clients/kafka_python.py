"""kafka-python runner: ``send()`` + ``add_both()`` per record, then ``flush()``.

Over TLS: ``security_protocol="SSL"``, ``ssl_cafile`` (hostname checked, as by default)."""
from __future__ import annotations

import time

from kafka import KafkaProducer

from bench.clients._common import Latencies, Pacer, Tally, cpu_seconds, emit, load_spec, records


def main() -> None:
    spec = load_spec()
    keys, values = records(spec)
    n, pool = spec["num_records"], len(values)
    compression = None if spec["compression"] == "none" else spec["compression"]
    security = {}
    if spec.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
        security = {"security_protocol": spec["security_protocol"], "ssl_cafile": spec["ssl_ca"]}
    producer = KafkaProducer(
        bootstrap_servers=spec["bootstrap"], acks=1 if spec["acks"] == "1" else "all",
        compression_type=compression, enable_idempotence=spec["idempotence"],
        batch_size=spec["batch_size"], linger_ms=spec["linger_ms"], **security)
    tally = Tally()
    lat = Latencies(n) if spec["latency"] else None

    def on_done(result):   # RecordMetadata or the exception
        if isinstance(result, Exception):
            tally.error(result)
        else:
            tally.acked += 1

    def on_done_timed(i, result):
        lat.acked[i] = time.perf_counter()
        on_done(result)

    send, topic = producer.send, spec["topic"]
    producer.partitions_for(topic)   # warm-up: metadata and connection before the clock
    pacer = Pacer(spec["rate"])
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(n):
        pacer.wait(i)
        j = i % pool
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            send(topic, values[j], keys[j]).add_both(on_done_timed, i)
        else:
            send(topic, values[j], keys[j]).add_both(on_done)
    producer.flush()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    producer.close()
    emit(spec, tally, elapsed, cpu, lat, [])


if __name__ == "__main__":
    main()
