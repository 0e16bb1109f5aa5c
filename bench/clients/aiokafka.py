"""aiokafka runner: ``await send()`` + ``add_done_callback()`` per record, then ``flush()``.

Over TLS: ``security_protocol="SSL"`` with ``create_ssl_context(cafile=)`` (hostname checked)."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from bench.clients._common import asyncio_send_loop, emit, load_spec


async def run(spec) -> None:
    compression = None if spec["compression"] == "none" else spec["compression"]
    security = {}
    if spec.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
        from aiokafka.helpers import create_ssl_context
        security = {"security_protocol": spec["security_protocol"],
                    "ssl_context": create_ssl_context(cafile=spec["ssl_ca"])}
    producer = AIOKafkaProducer(
        bootstrap_servers=spec["bootstrap"], acks=1 if spec["acks"] == "1" else "all",
        compression_type=compression, enable_idempotence=spec["idempotence"],
        max_batch_size=spec["batch_size"], linger_ms=spec["linger_ms"], **security)
    await producer.start()
    await producer.partitions_for(spec["topic"])   # warm-up: metadata before the clock
    tally, lat, elapsed, cpu = await asyncio_send_loop(spec, producer.send, producer.flush)
    await producer.stop()
    emit(spec, tally, elapsed, cpu, lat, [])


def main() -> None:
    asyncio.run(run(load_spec()))


if __name__ == "__main__":
    main()
