"""kprod asyncio runner: ``await AsyncProducer.send()`` + ``add_done_callback()`` per
record, then ``await flush()`` (the aiokafka runner's loop, for an asyncio-to-asyncio
comparison). Settings: bench.clients.settings.kprod_config."""
from __future__ import annotations

import asyncio
import os
import sys

from bench.clients._common import Clock, asyncio_send_loop, emit, load_spec
from bench.clients.settings import kprod_config

if os.environ.get("KPROD_BENCH_SRC"):   # harness --kprod-src: another checkout's kprod
    sys.path.insert(0, os.environ["KPROD_BENCH_SRC"])
from kprod.aio import AsyncProducer  # noqa: E402


async def run(spec) -> None:
    producer = AsyncProducer(kprod_config(spec))
    await producer.start()
    clock = Clock()
    tally, lat, elapsed, cpu, warm = await asyncio_send_loop(spec, producer.send, producer.flush,
                                                             clock)
    await producer.close()
    emit(spec, tally, elapsed, cpu, lat, [], warmup_acked=warm, clock=clock)


def main() -> None:
    asyncio.run(run(load_spec()))


if __name__ == "__main__":
    main()
