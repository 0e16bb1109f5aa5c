"""RecordFuture in asyncio (awaitable, no asyncio.Future per record) and kprod.wait /
kprod.as_completed, against the real broker."""
from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

import kprod
from kprod.aio import AsyncProducer, gather
from kprod.errors import KafkaTimeoutError, RecordTooLargeError
from kprod.record import RecordMetadata

from .readback import read_all

GET_TIMEOUT = 30


def _counting_loop():
    """A new event loop that counts the futures made on it."""
    loop = asyncio.new_event_loop()
    made = []
    create = loop.create_future

    def create_future():
        future = create()
        made.append(future)
        return future

    loop.create_future = create_future
    return loop, made


def test_awaiting_sync_futures_makes_one_loop_future_per_batch_at_most(make_topic,
                                                                      make_producer,
                                                                      bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer(linger_ms=50)
    n = 3000

    async def main():
        futures = [producer.send(topic, b"v%d" % i, key=b"%d" % i) for i in range(n)]
        return futures, await gather(futures)

    loop, made = _counting_loop()
    try:
        futures, metadata = loop.run_until_complete(main())
    finally:
        loop.close()
    batches = {f._batch for f in futures}
    assert all(isinstance(m, RecordMetadata) for m in metadata)
    assert [(m.partition, m.offset) for m in metadata] == \
        [(f.get(0).partition, f.get(0).offset) for f in futures]
    assert len(made) <= len(batches) < n / 10
    assert sorted(m.value for m in read_all(bootstrap, topic, n)) == \
        sorted(b"v%d" % i for i in range(n))


def test_cancelling_one_awaiter_leaves_the_others_waiting(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer(linger_ms=60000)     # pending until flushed

    async def main():
        first = producer.send(topic, b"a")
        second = producer.send(topic, b"b")       # same batch
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(first, 0.2)    # cancels only this awaiting task
        waiter = asyncio.ensure_future(_await(second))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await asyncio.get_running_loop().run_in_executor(None, producer.flush, GET_TIMEOUT)
        return await first, await waiter

    a, b = asyncio.run(main())
    assert (a.offset, b.offset) == (0, 1)


async def _await(future):
    return await future


def test_await_raises_the_records_error(make_topic, bootstrap):
    topic = make_topic(configs={"max.message.bytes": "2000"})

    async def main():
        async with AsyncProducer(bootstrap_servers=bootstrap) as producer:
            ok = await producer.send(topic, b"ok")
            big = await producer.send(topic, b"x" * 5000)
            assert (await ok).offset == 0
            with pytest.raises(RecordTooLargeError):
                await big
            results = await gather([ok, big], return_exceptions=True)
            assert results[0].offset == 0 and isinstance(results[1], RecordTooLargeError)

    asyncio.run(main())


def test_wait_and_as_completed(make_topic, make_producer):
    topic = make_topic(partitions=2)
    producer = make_producer(linger_ms=60000)
    futures = [producer.send(topic, b"v%d" % i, partition=i % 2) for i in range(100)]
    done, not_done = kprod.wait(futures, timeout=0.1)
    assert done == set() and not_done == set(futures)
    with pytest.raises(KafkaTimeoutError, match=r"100 \(of 100\) futures unfinished"):
        list(kprod.as_completed(futures, timeout=0.1))
    plain = concurrent.futures.Future()          # mixed with standard futures
    plain.set_result("x")
    done, not_done = kprod.wait(futures + [plain], return_when=concurrent.futures.FIRST_COMPLETED)
    assert done == {plain}
    producer.flush(GET_TIMEOUT)
    done, not_done = kprod.wait(futures, timeout=GET_TIMEOUT)
    assert done == set(futures) and not not_done
    seen = list(kprod.as_completed(futures, timeout=GET_TIMEOUT))
    assert sorted(map(id, seen)) == sorted(map(id, futures))


def test_as_completed_yields_in_completion_order(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer(linger_ms=60000)
    early = producer.send(topic, b"early")
    producer.flush(GET_TIMEOUT)
    late = producer.send(topic, b"late")
    iterator = kprod.as_completed([late, early], timeout=GET_TIMEOUT)
    assert next(iterator) is early                # done already: first
    producer.flush(GET_TIMEOUT)
    assert next(iterator) is late
    assert late.get(0).offset == 1


def test_gather_of_pending_records_returns_each_outcome_or_raises_the_first_error(
        make_topic, bootstrap):
    # Pending when gather starts (linger): each is awaited, then its own outcome is
    # reported, never the "not acknowledged within 0 s" of looking too early.
    topic = make_topic(configs={"max.message.bytes": "2000"})

    async def main():
        async with AsyncProducer(bootstrap_servers=bootstrap, linger_ms=200) as producer:
            futures = [await producer.send(topic, b"ok%d" % i) for i in range(3)]
            futures.insert(1, await producer.send(topic, b"x" * 5000))
            assert not any(f.done() for f in futures)
            with pytest.raises(RecordTooLargeError):
                await gather(futures)
            results = await gather(futures, return_exceptions=True)
            assert isinstance(results[1], RecordTooLargeError)
            assert [r.offset for i, r in enumerate(results) if i != 1] == [0, 1, 2]
            return results

    results = asyncio.run(main())
    assert [r.topic for r in results if isinstance(r, RecordMetadata)] == [topic] * 3


def test_record_metadata_is_not_tracked_by_the_garbage_collector(make_topic, make_producer):
    # Its fields are str and int: it cannot be in a cycle; a list of many (gather)
    # must not make every collection traverse them all.
    import gc

    topic = make_topic()
    producer = make_producer()
    seen = []
    future = producer.send(topic, b"v", key=b"k", callback=lambda m, e: seen.append(m))
    metadata = future.get(GET_TIMEOUT)
    producer.flush(GET_TIMEOUT)
    assert metadata == RecordMetadata(topic, 0, 0, metadata.timestamp, 1, 1)
    assert not gc.is_tracked(metadata) and not gc.is_tracked(seen[0])
    assert seen[0] == metadata
