"""append_many: the same bytes as one append() per record, stopping when full."""
from hypothesis import given, settings, strategies as st

from kprod._native.bufferpool import standalone_buffer
from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.batch_reader import read_batches

values_st = st.lists(st.one_of(st.none(), st.binary(max_size=300)), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(values=values_st, keyed=st.booleans(), limit=st.integers(100, 4000))
def test_append_many_matches_single_appends(values, keyed, limit):
    keys = [(b"k%d" % i) if i % 3 else None for i in range(len(values))] if keyed else None
    one = RecordBatchBuilder(standalone_buffer(1 << 16), write_limit=limit)
    appended = 0
    for i, value in enumerate(values):
        if one.append(1_700_000_000_000, keys[i] if keys else None, value) < 0:
            break
        appended += 1
    bulk = RecordBatchBuilder(standalone_buffer(1 << 16), write_limit=limit)
    assert bulk.append_many(1_700_000_000_000, values, keys) == appended
    assert bytes(bulk.close()) == bytes(one.close())


def test_append_many_resumes_from_start_in_a_new_batch():
    values = [b"x" * 100] * 1000
    first = RecordBatchBuilder(standalone_buffer(16384), write_limit=16384)
    end = first.append_many(5, values)
    assert 0 < end < len(values)
    second = RecordBatchBuilder(standalone_buffer(1 << 20), write_limit=1 << 20)
    assert second.append_many(5, values, start=end) == len(values)
    records = [r for data in (first.close(), second.close())
               for batch in read_batches(bytes(data)) for r in batch.records]
    assert [r.value for r in records] == values


def test_append_many_checks_lengths():
    import pytest
    builder = RecordBatchBuilder(standalone_buffer(1024))
    with pytest.raises(ValueError, match="2 keys for 1 values"):
        builder.append_many(0, [b"v"], [b"a", b"b"])
