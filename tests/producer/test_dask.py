"""kprod.dask on a real distributed cluster of two worker processes: every record of a
Dask DataFrame / Bag reaches the topic exactly once (read back by confluent-kafka),
and each worker process reuses one producer across its tasks."""
from __future__ import annotations

import os

import pytest

from .readback import read_all

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")
db = pytest.importorskip("dask.bag")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def client():
    import dask
    # Keep bytes columns as bytes (dask would turn object columns into strings).
    with dask.config.set({"dataframe.convert-string": False}):
        with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=2,
                                      dashboard_address=None) as cluster:
            with distributed.Client(cluster) as c:
                yield c


def _producer_identity():
    from kprod.dask import _producers
    return os.getpid(), sorted(id(p) for p in _producers.values())


def test_dataframe_every_record_exactly_once(client, make_topic, bootstrap):
    from kprod.dask import to_kafka
    topic = make_topic(partitions=4)
    n = 20_000
    frame = pd.DataFrame({
        "value": [b"value-%06d" % i for i in range(n)],
        "key": [b"key-%d" % (i % 101) for i in range(n)],
        "ts": [1_700_000_000_000 + i for i in range(n)],
    })
    data = dd.from_pandas(frame, npartitions=12)
    config = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    written = to_kafka(data, topic, config, key="key", timestamp="ts")
    assert written == n
    got = read_all(bootstrap, topic, expected=n)
    values = [m.value for m in got]
    assert len(values) == n and set(values) == set(frame["value"])   # exactly once
    from kprod.partitioner import partition_for_key
    for m in got:
        i = int(m.value[6:])
        assert m.key == b"key-%d" % (i % 101)
        assert m.partition == partition_for_key(m.key, 4)
        assert m.timestamp == 1_700_000_000_000 + i
    # One producer per worker process, reused by all its tasks (12 partitions, 2 workers).
    identities = client.run(_producer_identity)
    assert len(identities) == 2
    assert all(len(ids) <= 1 for _, ids in identities.values())
    assert sum(len(ids) for _, ids in identities.values()) >= 1


def test_bag_of_pairs(client, make_topic, bootstrap):
    from kprod.dask import to_kafka
    topic = make_topic(partitions=2)
    items = [(b"k%d" % (i % 7), b"bag-%05d" % i) for i in range(5000)]
    bag = db.from_sequence(items, npartitions=9)
    written = to_kafka(bag, topic, {"bootstrap.servers": bootstrap}, pairs=True)
    assert written == 5000
    got = read_all(bootstrap, topic, expected=5000)
    assert sorted((m.key, m.value) for m in got) == sorted(items)
