"""kprod asyncio runner: ``await AsyncProducer.send()`` + ``add_done_callback()`` per
record, then ``await flush()`` (the same loop as the aiokafka runner, for an
asyncio-to-asyncio comparison). Over TLS: ``security.protocol=SSL`` + PEM CA."""
from __future__ import annotations

import asyncio
import functools
import os
import sys
import time

from bench.clients._common import Latencies, Pacer, Tally, cpu_seconds, emit, load_spec, records

if os.environ.get("KPROD_BENCH_SRC"):   # harness --kprod-src: another checkout's kprod
    sys.path.insert(0, os.environ["KPROD_BENCH_SRC"])
from kprod.aio import AsyncProducer  # noqa: E402


async def run(spec) -> None:
    keys, values = records(spec)
    n, pool = spec["num_records"], len(values)
    config = {
        "bootstrap.servers": spec["bootstrap"], "acks": spec["acks"],
        "compression.type": spec["compression"], "enable.idempotence": spec["idempotence"],
        "batch.size": spec["batch_size"], "linger.ms": spec["linger_ms"]}
    if spec.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
        config["security.protocol"] = spec["security_protocol"]
        config["ssl.truststore.location"] = spec["ssl_ca"]
    producer = AsyncProducer(config)
    await producer.start()
    tally = Tally()
    lat = Latencies(n) if spec["latency"] else None

    def on_done(fut):
        exc = fut.exception()
        if exc is None:
            tally.acked += 1
        else:
            tally.error(exc)

    def on_done_timed(i, fut):
        lat.acked[i] = time.perf_counter()
        on_done(fut)

    send, topic = producer.send, spec["topic"]
    await producer.partitions_for(topic)   # warm-up: metadata before the clock
    pacer = Pacer(spec["rate"])
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(n):
        if pacer.interval:   # pace with asyncio.sleep so the event loop keeps running
            ahead = pacer.start + i * pacer.interval - time.perf_counter()
            if ahead > 0.0005:
                await asyncio.sleep(ahead)
        j = i % pool
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            (await send(topic, values[j], keys[j])).add_done_callback(
                functools.partial(on_done_timed, i))
        else:
            (await send(topic, values[j], keys[j])).add_done_callback(on_done)
    await producer.flush()
    await asyncio.sleep(0)   # done callbacks are scheduled, not called, by the future
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    await producer.close()
    emit(spec, tally, elapsed, cpu, lat, [])


def main() -> None:
    asyncio.run(run(load_spec()))


if __name__ == "__main__":
    main()
