"""Partitioners, serializers and interceptors named by "module.Class" strings, as Java's
class-typed settings are; Java's built-in class names map to kprod's built-ins."""
from __future__ import annotations

from collections import Counter

import pytest

from kprod.errors import ConfigError
from kprod.producer import Producer

from .readback import read_all

HERE = "tests.producer.named_classes"
GET_TIMEOUT = 60


def test_partitioner_by_module_class_name(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer({"partitioner.class": f"{HERE}.LastPartition"})
    futures = [producer.send(topic, b"v%d" % i, key=b"k%d" % i) for i in range(12)]
    assert {f.get(GET_TIMEOUT).partition for f in futures} == {2}
    assert Counter(m.partition for m in read_all(bootstrap, topic, expected=12)) == {2: 12}


def test_java_round_robin_partitioner_name(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer(
        {"partitioner.class": "org.apache.kafka.clients.producer.RoundRobinPartitioner"})
    parts = [producer.send(topic, b"rr", key=b"same").get(GET_TIMEOUT).partition
             for _ in range(9)]
    assert Counter(parts) == {0: 3, 1: 3, 2: 3}
    assert Counter(m.partition for m in read_all(bootstrap, topic, expected=9)) == \
        {0: 3, 1: 3, 2: 3}


def test_serializer_and_interceptors_by_module_class_name(make_topic, make_producer, bootstrap):
    topic = make_topic()
    producer = make_producer({
        "key.serializer": "org.apache.kafka.common.serialization.StringSerializer",
        "value.serializer": f"{HERE}.UpperSerializer",
        "interceptor.classes": f"{HERE}.TagInterceptor, {HERE}.SuffixInterceptor",
    })
    producer.send(topic, "hello", key="k-1").get(GET_TIMEOUT)
    [message] = read_all(bootstrap, topic, expected=1)
    assert (message.key, message.value) == (b"k-1", b"HELLO+SUFFIX")
    assert message.headers == [("via", b"TagInterceptor")]


@pytest.mark.parametrize("setting, name, expected", [
    ("partitioner.class", "no_such_module.Partitioner", "cannot import module 'no_such_module'"),
    ("partitioner.class", "elsewhere.RoundRobinPartitioner", "cannot import module 'elsewhere'"),
    ("partitioner.class", f"{HERE}.Missing", "has no 'Missing'"),
    ("partitioner.class", f"{HERE}.not_a_class", "not a class"),
    ("partitioner.class", f"{HERE}.NeedsArguments", "could not instantiate"),
    ("partitioner.class", f"{HERE}.NoPartitionMethod", "no partition"),
    ("partitioner.class", "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
     "removed in Kafka 4.0; leave partitioner.class unset"),
    ("partitioner.class", "org.apache.kafka.clients.producer.UniformStickyPartitioner",
     "partitioner.ignore.keys=true"),
    ("partitioner.class", "org.apache.kafka.clients.producer.SomePartitioner",
     "no kprod equivalent"),
    ("partitioner.class", "NoSuchPartitioner", "unknown partitioner"),
    ("value.serializer", "no_such_module.Serializer", "cannot import module"),
    ("value.serializer", "org.apache.kafka.common.serialization.VoidSerializer",
     "unknown serializer name"),
    ("value.serializer", "io.confluent.kafka.serializers.KafkaAvroSerializer",
     "kprod.schema_registry.AvroSerializer"),
    ("value.serializer", f"{HERE}.LastPartition", "serialize"),
    ("interceptor.classes", "no_such_module.Interceptor", "cannot import module"),
    ("interceptor.classes", f"{HERE}.LastPartition", "on_send"),
])
def test_unusable_class_names_are_config_errors_naming_the_setting(setting, name, expected):
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")) as info:
        Producer({"bootstrap.servers": "127.0.0.1:9", setting: name})
    assert expected in str(info.value)
