"""RecordFuture.add_done_callback: the first one per pending future rides on the future
itself (no tuple, no lock), runs after the send() callback, follows a split, and later
ones still run in order; callback errors are logged and the rest still run."""
from __future__ import annotations

from typing import List

from kprod._internals.batch import split_batch

from ..fakes import ManualClock as Clock
from .test_split import TP, append, make_acc


def test_done_callbacks_run_after_the_send_callback_in_order(caplog):
    acc = make_acc(Clock())
    calls: List[tuple] = []
    futures = [append(acc, 1000 + i, b"k", b"v%d" % i,
                      callback=lambda m, e, i=i: calls.append(("send", i, m.offset)))
               for i in range(3)]
    plain = append(acc, 2000, None, b"no-callback")
    futures[0].add_done_callback(lambda f: calls.append(("done", 0, f.get(0).offset)))
    futures[0].add_done_callback(lambda f: calls.append(("again", 0, f.get(0).offset)))

    def broken(future):
        raise RuntimeError("boom")

    futures[1].add_done_callback(broken)
    plain.add_done_callback(lambda f: calls.append(("done", 3, f.get(0).offset)))
    (batch,) = acc.queues[TP].batches
    batch.close()
    batch.complete(500, -1)
    # A future's first done callback runs right after its send() callback; a second one
    # is queued behind what the batch had then (each future's own order is kept).
    assert calls == [("send", 0, 500), ("done", 0, 500), ("send", 1, 501), ("send", 2, 502),
                     ("again", 0, 500), ("done", 3, 503)]
    assert "boom" in caplog.text
    late: List[int] = []
    futures[2].add_done_callback(lambda f: late.append(f.get(0).offset))   # done: at once
    assert late == [502]


def test_a_done_callback_follows_its_record_into_a_split_piece():
    acc = make_acc(Clock())
    futures = [append(acc, 1000 + i, None, b"x" * 50) for i in range(20)]
    seen: List[int] = []
    futures[15].add_done_callback(lambda f: seen.append(f.get(0).offset))
    (batch,) = acc.queues[TP].batches
    batch.close()
    pieces = split_batch(batch, 10_000, 10, acc.codec, None)
    assert len(pieces) == 2
    pieces[0].complete(100, -1)
    assert seen == []                        # record 15 is in the second piece
    pieces[1].complete(300, -1)
    assert seen == [305]
