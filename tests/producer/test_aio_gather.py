"""kprod.aio.gather without a broker: records of batches completed by hand (some
before the call, some while it waits), batches split after MESSAGE_TOO_LARGE (each
record follows its piece), failed records, and inputs that are not lists."""
from __future__ import annotations

import asyncio

import pytest

from kprod._internals.batch import split_batch
from kprod.aio import gather
from kprod.errors import NotEnoughReplicasError
from kprod.record import RecordMetadata

from ..fakes import ManualClock
from .test_split import TP, append, make_acc, sample_records


def _queued(acc, n, first=0):
    records = sample_records(n)[first:]
    return [append(acc, ts, key, value, headers) for ts, key, value, headers in records]


def _expected(futures, base):
    return [RecordMetadata(TP[0], TP[1], base + i, f._timestamp, f._key_size, f._value_size)
            for i, f in enumerate(futures)]


def test_done_and_pending_batches_in_order():
    acc = make_acc(ManualClock(), batch_size=2048)
    futures = _queued(acc, 40)
    results = [b.result for b in acc.queues[TP].batches]
    counts = [sum(1 for f in futures if f._batch is r) for r in results]
    assert len(results) > 2 and sum(counts) == 40   # several batches, records adjacent
    results[0].complete(100)

    async def main():
        loop = asyncio.get_running_loop()
        base = 100 + counts[0]
        for result, count in zip(results[1:], counts[1:]):   # completed while it waits
            loop.call_later(0.01, result.complete, base)
            base += count
        return await gather(tuple(futures))       # any sequence

    assert asyncio.run(main()) == _expected(futures, 100)


def test_split_pieces_and_a_failed_piece():
    acc = make_acc(ManualClock())
    futures = _queued(acc, 60)
    (batch,) = acc.queues[TP].batches
    batch.close()
    pieces = split_batch(batch, 1500, 30, acc.codec, None)
    assert len(pieces) > 2
    error = NotEnoughReplicasError("the second piece failed")
    base, outcome = 1000, []
    for i, piece in enumerate(pieces):
        if i == 1:
            piece.complete(-1, -1, error)
            outcome += [error] * piece.record_count
        else:
            piece.complete(base, -1)
            outcome += [base + j for j in range(piece.record_count)]
            base += piece.record_count

    results = asyncio.run(gather(futures, return_exceptions=True))
    assert [r if isinstance(r, BaseException) else r.offset for r in results] == outcome
    assert [r.timestamp for r in results if not isinstance(r, BaseException)] == \
        [f._timestamp for f, o in zip(futures, outcome) if o is not error]
    with pytest.raises(NotEnoughReplicasError, match="second piece"):
        asyncio.run(gather(futures))


def test_records_after_a_failed_batch_are_not_needed_to_raise():
    acc = make_acc(ManualClock(), batch_size=2048)
    futures = _queued(acc, 40)
    first, *rest = list(acc.queues[TP].batches)
    first.result.complete(-1, -1, NotEnoughReplicasError("first batch"))
    # The later batches stay pending: the first error raises at once.
    with pytest.raises(NotEnoughReplicasError, match="first batch"):
        asyncio.run(asyncio.wait_for(gather(futures), 5))
    assert not any(b.result.done for b in rest)


def test_empty_and_already_done():
    assert asyncio.run(gather([])) == []
    acc = make_acc(ManualClock())
    futures = _queued(acc, 5)
    (batch,) = acc.queues[TP].batches
    batch.result.complete(7, 1234)                # LogAppendTime: every record's timestamp
    results = asyncio.run(gather(futures))
    assert [(r.offset, r.timestamp) for r in results] == [(7 + i, 1234) for i in range(5)]


def test_await_each_record_done_failed_or_completed_meanwhile():
    acc = make_acc(ManualClock(), batch_size=2048)
    futures = _queued(acc, 40)
    results = [b.result for b in acc.queues[TP].batches]
    results[0].complete(5)
    results[1].complete(-1, -1, NotEnoughReplicasError("second batch"))
    first_of = {r: next(i for i, f in enumerate(futures) if f._batch is r) for r in results}

    async def main():
        loop = asyncio.get_running_loop()
        for r in results[2:]:
            loop.call_later(0.01, r.complete, 1000 + first_of[r])
        out = []
        for future in futures:
            try:
                out.append((await future).offset)
            except NotEnoughReplicasError as error:
                out.append(error)
        return out

    out = asyncio.run(main())
    second = first_of[results[1]]
    third = first_of[results[2]]
    assert out[:second] == [5 + i for i in range(second)]
    assert all(isinstance(e, NotEnoughReplicasError) for e in out[second:third])
    assert out[third:] == [1000 + i for i in range(third, 40)]
