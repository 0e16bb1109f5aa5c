"""send_many() from Arrow, pandas and polars columns, read back by confluent-kafka."""
from __future__ import annotations

import numpy as np
import pytest

from kprod.errors import BulkInputError
from kprod.partitioner import partition_for_key

from .readback import read_all

pa = pytest.importorskip("pyarrow")


def _expected(column):
    """Each record's bytes (None for nulls), the independent way: through Python."""
    out = []
    for item in column.to_pylist():
        out.append(item.encode() if isinstance(item, str) else item)
    return out


def _arrow_cases():
    raw = [None if i % 7 == 3 else (b"r%03d" % i) * (i % 4) for i in range(400)]
    text = [None if i % 9 == 1 else "t\u00e9xt-%d" % i for i in range(400)]
    fixed = [None if i % 5 == 2 else b"%08d" % i for i in range(400)]
    return {
        "binary": pa.array(raw, pa.binary()),
        "large_binary": pa.array(raw, pa.large_binary()),
        "string": pa.array(text, pa.string()),
        "large_string": pa.array(text, pa.large_string()),
        "fixed_size_binary": pa.array(fixed, pa.binary(8)),
        # a slice: the buffers start before the array (offset != 0)
        "binary slice": pa.array(raw, pa.binary()).slice(37, 300),
        "fixed slice": pa.array(fixed, pa.binary(8)).slice(13, 250),
        "chunked": pa.chunked_array([pa.array(raw[:150], pa.binary()),
                                     pa.array([], pa.binary()),
                                     pa.array(raw[150:], pa.binary()).slice(5)]),
        "no nulls": pa.array([b"x%d" % i for i in range(300)]),
    }


@pytest.mark.parametrize("name", list(_arrow_cases()))
def test_arrow_values_and_keys(name, make_topic, make_producer, bootstrap):
    column = _arrow_cases()[name]
    n = len(column)
    topic = make_topic(partitions=3)
    producer = make_producer()
    keys = pa.array([None if i % 11 == 0 else "key-%d" % (i % 23) for i in range(n)])
    md = producer.send_many(topic, column, keys=keys).get(60)
    assert md.errors == []
    values = _expected(column)
    expected_keys = _expected(keys)
    for i, key in enumerate(expected_keys):
        if key is not None:
            assert md.partitions[i] == partition_for_key(key, 3)
    got = read_all(bootstrap, topic, expected=n)
    at = {(m.partition, m.offset): m for m in got}
    assert len(got) == n
    for i in range(n):
        m = at[(int(md.partitions[i]), int(md.offsets[i]))]
        assert (m.key, m.value) == (expected_keys[i], values[i]), i


def test_pandas_and_polars_series(make_topic, make_producer, bootstrap):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    topic = make_topic(partitions=2)
    producer = make_producer()
    values = [b"pd-%d" % i for i in range(100)]
    columns = [
        pd.Series(values, dtype=object),                                  # numpy object
        pd.Series([v.decode() for v in values], dtype="string[pyarrow]"),  # Arrow-backed
        pl.Series("v", values, dtype=pl.Binary),
        pl.Series("v", [v.decode() for v in values]),                      # Utf8
    ]
    futures = [producer.send_many(topic, column, keys=pl.Series(values))
               for column in columns]
    metadata = [f.get(60) for f in futures]
    got = read_all(bootstrap, topic, expected=400)
    at = {(m.partition, m.offset): m for m in got}
    for md in metadata:
        assert md.errors == []
        assert [at[(int(p), int(o))].value for p, o in zip(md.partitions, md.offsets)] == \
            values
        assert list(md.partitions) == [partition_for_key(v, 2) for v in values]


def test_unsupported_arrow_types_are_typed_errors(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()
    for column in (pa.array([1, 2, 3]), pa.array([b"a", b"b"]).dictionary_encode(),
                   pa.array([[b"a"], [b"b"]])):
        with pytest.raises(BulkInputError, match="Arrow type") as info:
            producer.send_many(topic, column)
        assert info.value.argument == "values"
    with pytest.raises(BulkInputError, match="2 keys for 3 values"):
        producer.send_many(topic, pa.array([b"a", b"b", b"c"]), keys=pa.array([b"k", b"l"]))


def test_arrow_timestamps_and_partitions_as_numpy(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=2)
    producer = make_producer()
    stamps = pa.array(np.arange(50, dtype=np.int64) + 1_600_000_000_000)
    md = producer.send_many(topic, pa.array([b"v%d" % i for i in range(50)]),
                            partitions=pa.array(np.arange(50) % 2),
                            timestamps=stamps).get(30)
    assert list(md.partitions) == [i % 2 for i in range(50)]
    got = read_all(bootstrap, topic, expected=50)
    by_value = {m.value: m for m in got}
    for i in range(50):
        m = by_value[b"v%d" % i]
        assert (m.partition, m.timestamp) == (i % 2, 1_600_000_000_000 + i)
