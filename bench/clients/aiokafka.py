"""aiokafka runner: ``await send()`` + ``add_done_callback()`` per record, then ``flush()``.

Settings: bench.clients.settings.aiokafka_config; over TLS an ssl_context from
``create_ssl_context(cafile=)`` (hostname checked)."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from bench.clients._common import Clock, asyncio_send_loop, emit, load_spec
from bench.clients.settings import aiokafka_config


async def run(spec) -> None:
    config = aiokafka_config(spec)
    if spec.get("tls"):
        from aiokafka.helpers import create_ssl_context
        config.update(security_protocol="SSL",
                      ssl_context=create_ssl_context(cafile=spec["tls"]["ca"]))
    producer = AIOKafkaProducer(**config)
    await producer.start()
    clock = Clock()
    tally, lat, elapsed, cpu, warm = await asyncio_send_loop(spec, producer.send, producer.flush,
                                                             clock)
    await producer.stop()
    emit(spec, tally, elapsed, cpu, lat, [], warmup_acked=warm, clock=clock)


def main() -> None:
    asyncio.run(run(load_spec()))


if __name__ == "__main__":
    main()
