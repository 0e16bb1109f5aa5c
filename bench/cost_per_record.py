"""CPU per record of a few send() forms against a local test broker (kprod.testing).

    .venv/bin/python -m bench.cost_per_record [--records 200000] [--repeats 3]

Forms: sync send(), with and without callback=, with three headers as a list of
tuples or a dict (the native path) and with str values (the Python path, which
encodes them); kprod.aio (``await send()`` + add_done_callback, as the bench's asyncio
runner, ``await send()`` then ``await gather(futures)``, and then ``await`` of each
future); an interceptor with on_send (the Python send path) and one with
on_acknowledgement only (the native path).
Each run sends 100-byte values to a fresh 3-partition topic and flushes; the figures
are process CPU (all threads: caller and I/O thread) and the caller thread's CPU, per
record, the median of the repeats.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Callable, Dict, List

from kprod import Producer
from kprod.aio import AsyncProducer, gather
from kprod.testing import KafkaCluster

VALUE = b"x" * 100
# The benchmark's headers scenario's three (bench.clients._common.header_pool).
HEADERS = [("trace-id", b"0000000000104729"), ("source", b"kprod-bench"), ("schema", b"v1")]


class OnSend:
    def on_send(self, record):
        return record

    def on_acknowledgement(self, metadata, exception):
        pass


class AcknowledgeOnly:
    def on_acknowledgement(self, metadata, exception):
        pass


def _sync(bootstrap: str, topic: str, n: int, headers=None, **settings) -> None:
    producer = Producer(bootstrap_servers=bootstrap, **settings)
    try:
        producer.send(topic, VALUE).get(30)          # metadata known before the clock
        _measure(lambda: _sync_loop(producer, topic, n, headers))
    finally:
        producer.close(30)


def _sync_loop(producer: Producer, topic: str, n: int, headers=None) -> None:
    send = producer.send
    if headers is not None:
        for _ in range(n):
            send(topic, VALUE, headers=headers)
    elif CALLBACK[0]:
        for _ in range(n):
            send(topic, VALUE, callback=_acked)
    else:
        for _ in range(n):
            send(topic, VALUE)
    producer.flush(60)


CALLBACK = [False]


def _acked(*args) -> None:
    pass


def _sync_callback(bootstrap: str, topic: str, n: int) -> None:
    CALLBACK[0] = True
    try:
        _sync(bootstrap, topic, n)
    finally:
        CALLBACK[0] = False


def _aio(bootstrap: str, topic: str, n: int, style: str) -> None:
    async def main() -> None:
        producer = AsyncProducer(bootstrap_servers=bootstrap)
        await producer.send_and_wait(topic, VALUE)
        acked = []
        done = acked.append

        async def loop() -> None:
            futures = []
            for _ in range(n):
                future = await producer.send(topic, VALUE)
                if style == "callback":
                    future.add_done_callback(done)
                else:
                    futures.append(future)
            if style == "gather":
                await gather(futures)
            elif style == "await":
                for future in futures:
                    await future
            await producer.flush(60)

        await _ameasure(loop)
        await producer.close(30)

    asyncio.run(main())


RESULTS: List[Dict[str, float]] = []


def _measure(body: Callable[[], None]) -> None:
    cpu, thread = time.process_time(), time.thread_time()
    body()
    RESULTS.append({"cpu": time.process_time() - cpu, "thread": time.thread_time() - thread})


async def _ameasure(body) -> None:
    cpu, thread = time.process_time(), time.thread_time()
    await body()
    RESULTS.append({"cpu": time.process_time() - cpu, "thread": time.thread_time() - thread})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.records
    forms = {
        "sync send()": lambda b, t: _sync(b, t, n),
        "sync send(callback=)": lambda b, t: _sync_callback(b, t, n),
        "sync send(headers=[3 tuples])": lambda b, t: _sync(b, t, n, headers=HEADERS),
        "sync send(headers={3 as a dict})": lambda b, t: _sync(
            b, t, n, headers=dict(HEADERS)),
        "sync send(headers=[3 tuples, str values]), Python path": lambda b, t: _sync(
            b, t, n, headers=[(name, value.decode()) for name, value in HEADERS]),
        "sync send(), interceptor with on_send": lambda b, t: _sync(
            b, t, n, interceptor_classes=[OnSend()]),
        "sync send(), interceptor without on_send": lambda b, t: _sync(
            b, t, n, interceptor_classes=[AcknowledgeOnly()]),
        "aio: await send() + add_done_callback": lambda b, t: _aio(b, t, n, "callback"),
        "aio: await send(), then await gather()": lambda b, t: _aio(b, t, n, "gather"),
        "aio: await send(), then await each": lambda b, t: _aio(b, t, n, "await"),
    }
    table: Dict[str, List[Dict[str, float]]] = {name: [] for name in forms}
    with KafkaCluster(brokers=1) as cluster:
        for repeat in range(args.repeats):
            for name, run in forms.items():          # interleaved: load hits all alike
                topic = cluster.create_topic(f"cost-{repeat}-{len(table[name])}-"
                                             f"{abs(hash(name))}", 3, 1)
                run(cluster.bootstrap_servers, topic)
                table[name].append(RESULTS.pop())
    print(f"{n} records of 100 B per run, median of {args.repeats} (µs per record)")
    print(f"{'form':45} {'process CPU':>12} {'caller thread':>14}")
    for name, runs in table.items():
        cpu = statistics.median(r["cpu"] for r in runs) / n * 1e6
        thread = statistics.median(r["thread"] for r in runs) / n * 1e6
        print(f"{name:45} {cpu:12.2f} {thread:14.2f}")


if __name__ == "__main__":
    main()
