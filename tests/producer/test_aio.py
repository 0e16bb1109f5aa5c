"""kprod.aio.AsyncProducer against the real broker, read back with confluent-kafka."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from kprod.aio import AsyncProducer
from kprod.errors import KafkaError, KafkaTimeoutError, SerializationError
from kprod.record import RecordMetadata

from .readback import read_all


def test_send_gather_and_read_back(kafka, make_topic):
    topic = make_topic(partitions=3)
    n = 5000

    async def main():
        async with AsyncProducer(bootstrap_servers=kafka.bootstrap_servers,
                                 linger_ms=5) as producer:
            futures = [await producer.send(topic, b"v%d" % i, key=b"k%d" % (i % 50),
                                           headers=[("i", b"%d" % i)]) for i in range(n)]
            return await asyncio.gather(*futures)

    metadata = asyncio.run(main())
    assert all(isinstance(m, RecordMetadata) and m.topic == topic for m in metadata)
    got = read_all(kafka.bootstrap_servers, topic, n)
    by_value = {m.value: m for m in got}
    assert len(by_value) == n
    for i, md in enumerate(metadata):
        msg = by_value[b"v%d" % i]
        assert (msg.partition, msg.offset) == (md.partition, md.offset)
        assert msg.key == b"k%d" % (i % 50) and msg.headers == [("i", b"%d" % i)]


def test_send_and_wait_send_many_and_flush(kafka, make_topic):
    topic = make_topic()

    async def main():
        producer = AsyncProducer({"bootstrap.servers": kafka.bootstrap_servers,
                                  "linger.ms": 5})
        await producer.start()
        try:
            first = await producer.send_and_wait(topic, b"first")
            many = await producer.send_many(topic, [b"m%d" % i for i in range(100)])
            await producer.flush(30)
            metadata = await many
            assert metadata.errors == []
            offsets = [int(offset) for offset in metadata.offsets]
            return first, offsets
        finally:
            await producer.stop()

    first, offsets = asyncio.run(main())
    assert first.offset == 0 and offsets == list(range(1, 101))
    assert [m.value for m in read_all(kafka.bootstrap_servers, topic, 101)] == \
        [b"first"] + [b"m%d" % i for i in range(100)]


def test_a_send_that_must_wait_does_not_block_the_loop():
    """No broker answers, so send must wait for the topic's metadata up to
    max.block.ms; the wait happens off the loop, other coroutines keep running, and it
    ends in the typed error a blocking send() raises."""
    topic = f"absent-{uuid.uuid4().hex[:8]}"

    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        async with AsyncProducer(bootstrap_servers="127.0.0.1:1", max_block_ms=1000) as p:
            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)            # the ticker's first tick
            start = ticks
            with pytest.raises(KafkaTimeoutError, match=topic):
                await p.send(topic, b"x")
            stop.set()
            await task
            return ticks - start

    # A send blocking the loop would leave the ticker no turn at all while it waits
    # (after the error the ticker sees stop set and exits without counting).
    assert asyncio.run(main()) > 0


def test_input_errors_raise_at_send_delivery_errors_in_the_future(kafka, make_topic):
    topic = make_topic(configs={"max.message.bytes": "2000"})

    async def main():
        async with AsyncProducer(bootstrap_servers=kafka.bootstrap_servers) as p:
            with pytest.raises(SerializationError, match=topic):
                await p.send(topic, "not bytes")
            small = await p.send(topic, b"ok")
            big = await p.send(topic, b"x" * 5000)    # over the topic's limit
            assert (await small).offset == 0
            with pytest.raises(KafkaError):
                await big

    asyncio.run(main())


def test_close_completes_every_future(kafka, make_topic):
    topic = make_topic()

    async def main():
        p = AsyncProducer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=60000)
        futures = [await p.send(topic, b"c%d" % i) for i in range(50)]
        await p.close(30)
        assert all(f.done() for f in futures)
        return [f.result().offset for f in futures]

    assert asyncio.run(main()) == list(range(50))


def test_transactions(kafka, make_topic):
    from tests.transactions.support import read_committed
    topic = make_topic()

    async def main():
        async with AsyncProducer(bootstrap_servers=kafka.bootstrap_servers,
                                 transactional_id=f"aio-{uuid.uuid4().hex}") as p:
            await p.init_transactions(30)
            p.begin_transaction()
            kept = [await p.send(topic, b"c%d" % i) for i in range(10)]
            await p.commit_transaction(30)
            assert all(f.done() and f.exception() is None for f in kept)
            p.begin_transaction()
            await p.send(topic, b"aborted")
            await p.abort_transaction(30)

    asyncio.run(main())
    values = [r[4] for r in read_committed(kafka.bootstrap_servers, [topic])]
    assert values == [b"c%d" % i for i in range(10)]


def test_bound_to_one_loop(kafka):
    p = AsyncProducer(bootstrap_servers=kafka.bootstrap_servers)
    try:
        asyncio.run(p.start())
        with pytest.raises(RuntimeError, match="another event loop"):
            asyncio.run(p.start())
    finally:
        p.producer.close(5)
