"""send_many(): the bulk API delivers exactly what the same send() calls would."""
from __future__ import annotations

import pytest

from kprod.errors import SerializationError
from kprod.partitioner import partition_for_key

from .readback import by_partition, read_all, wait_writable, without_probes


def test_send_many_keyed_and_unkeyed_round_trip(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=4)
    wait_writable(bootstrap, topic, 4)
    producer = make_producer({"linger.ms": 20})
    keys = [b"key-%d" % (i % 13) for i in range(3000)]
    values = [b"value-%06d" % i for i in range(3000)]
    keyed = producer.send_many(topic, values, keys, timestamp=1_700_000_000_000)
    unkeyed = producer.send_many(topic, [b"u-%06d" % i for i in range(2000)])
    producer.flush(60)
    assert len(keyed) == 3000 and len(unkeyed) == 2000
    for i, future in enumerate(keyed):
        md = future.get(0)
        assert md.partition == partition_for_key(keys[i], 4)
        assert md.timestamp == 1_700_000_000_000
    got = without_probes(read_all(bootstrap, topic, expected=5000))
    assert sorted(m.value for m in got) == sorted(values + [b"u-%06d" % i
                                                              for i in range(2000)])
    for partition, messages in by_partition(got).items():
        ours = [m.value for m in messages if m.value.startswith(b"value-")]
        assert ours == sorted(ours)                 # send order kept per partition
        for m in messages:
            if m.key is not None:
                assert partition == partition_for_key(m.key, 4)


def test_send_many_rejects_bad_input_like_send(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()
    with pytest.raises(ValueError, match="2 keys for 1 values"):
        producer.send_many(topic, [b"v"], [b"a", b"b"])
    with pytest.raises(SerializationError, match="str"):
        producer.send_many(topic, [b"ok", "not bytes"])
