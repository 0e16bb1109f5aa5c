"""End to end: kprod's AvroSerializer -> Kafka -> confluent-kafka's AvroDeserializer.

Both sides talk to the same real registry (Apicurio Registry's Confluent API,
started by kprod.testing.registry) and the same real broker.
"""
from __future__ import annotations

import copy
import struct

import pytest

from kprod.producer import Producer
from kprod.errors import SerializationError
from kprod.schema_registry import (
    AvroSerializer, IncompatibleSchemaError, SchemaRegistryClient,
)
from tests.producer.readback import read_all

confluent_sr = pytest.importorskip(
    "confluent_kafka.schema_registry",
    reason="needs confluent-kafka[avro,schemaregistry] (the test extra)")
from confluent_kafka.schema_registry.avro import AvroDeserializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402

from .customer import CUSTOMER, Customer  # noqa: E402


def producer_for(kafka, value_serializer, key_serializer="string") -> Producer:
    return Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 5,
                     "key.serializer": key_serializer, "value.serializer": value_serializer})


def confluent_deserialize(registry_url, topic, messages, field=MessageField.VALUE):
    deserializer = AvroDeserializer(confluent_sr.SchemaRegistryClient({"url": registry_url}))
    ctx = SerializationContext(topic, field)
    return [deserializer(m.value if field == MessageField.VALUE else m.key, ctx)
            for m in messages]


def schema_ids(messages):
    return {struct.unpack(">bI", m.value[:5]) for m in messages}


def test_customers_round_trip_through_confluent_deserializer(kafka, make_topic, registry_url):
    topic = make_topic()
    client = SchemaRegistryClient(registry_url)
    serializer = AvroSerializer(client, CUSTOMER)
    sent = [{"id": i, "name": f"customer {i}", "email": f"c{i}@example.com" if i % 3 else None}
            for i in range(60)]
    with producer_for(kafka, serializer) as producer:
        for c in sent[:40]:
            producer.send(topic, c, key=str(c["id"]))
        for c in sent[40:]:  # dataclasses too
            producer.send(topic, Customer(**c), key=str(c["id"]))
        producer.send(topic, {"id": 99, "name": "no email"}, key="99")  # default applies
        producer.flush(30)
    expected = sent + [{"id": 99, "name": "no email", "email": None}]

    messages = read_all(kafka.bootstrap_servers, topic, expected=len(expected))
    assert confluent_deserialize(registry_url, topic, messages) == expected
    assert [m.key for m in messages] == [str(c["id"]).encode() for c in expected]

    # Every record carries the id the registry reports for the subject (asked through
    # confluent-kafka's client, not ours).
    latest = confluent_sr.SchemaRegistryClient({"url": registry_url}).get_latest_version(
        f"{topic}-value")
    assert schema_ids(messages) == {(0, latest.schema_id)}
    assert serializer.schema_id(topic) == latest.schema_id


def test_second_producer_reuses_the_cached_schema_id(kafka, make_topic, registry_url):
    topic = make_topic()
    client = SchemaRegistryClient(registry_url)
    first = AvroSerializer(client, CUSTOMER)
    assert first.warm_up(topic) == {f"{topic}-value": first.schema_id(topic)}
    calls_after_warm_up = client.request_count
    assert calls_after_warm_up == 1  # one registration

    with producer_for(kafka, first) as producer:
        for i in range(20):
            producer.send(topic, {"id": i, "name": "first"})
        producer.flush(30)
    second = AvroSerializer(client, copy.deepcopy(CUSTOMER))  # a separate serializer object
    with producer_for(kafka, second) as producer:
        for i in range(20, 40):
            producer.send(topic, {"id": i, "name": "second"})
        producer.flush(30)
    assert client.request_count == calls_after_warm_up  # no HTTP for 40 records, 2 producers

    messages = read_all(kafka.bootstrap_servers, topic, expected=40)
    assert schema_ids(messages) == {(0, first.schema_id(topic))}
    assert client.get_versions(f"{topic}-value") == [1]  # registered once
    assert [c["id"] for c in confluent_deserialize(registry_url, topic, messages)] == \
        list(range(40))


def test_avro_keys_use_the_key_subject(kafka, make_topic, registry_url):
    topic = make_topic()
    client = SchemaRegistryClient(registry_url)
    key_schema = {"type": "record", "name": "CustomerKey", "namespace": "customerManagement.avro",
                  "fields": [{"name": "id", "type": "int"}]}
    keys = AvroSerializer(client, key_schema, is_key=True)
    values = AvroSerializer(client, CUSTOMER)
    with producer_for(kafka, values, key_serializer=keys) as producer:
        producer.send(topic, {"id": 1, "name": "a"}, key={"id": 1}).get(30)
    assert set(client.get_subjects()) >= {f"{topic}-key", f"{topic}-value"}
    messages = read_all(kafka.bootstrap_servers, topic, expected=1)
    assert confluent_deserialize(registry_url, topic, messages, MessageField.KEY) == [{"id": 1}]


def test_schema_evolution_compatible_accepted_incompatible_rejected(kafka, make_topic,
                                                                     registry_url):
    topic = make_topic()
    subject = f"{topic}-value"
    client = SchemaRegistryClient(registry_url)
    v1 = AvroSerializer(client, CUSTOMER)
    v1_id = v1.warm_up(topic)[subject]
    assert client.set_compatibility("BACKWARD", subject) == "BACKWARD"

    # Compatible: a new optional field with a default.
    v2_schema = copy.deepcopy(CUSTOMER)
    v2_schema["fields"].append({"name": "phone", "type": ["null", "string"], "default": None})
    assert client.test_compatibility(subject, v2_schema).is_compatible
    v2 = AvroSerializer(client, v2_schema)
    with producer_for(kafka, v1) as p1, producer_for(kafka, v2) as p2:
        p1.send(topic, {"id": 1, "name": "old"}).get(30)
        p2.send(topic, {"id": 2, "name": "new", "phone": "555"}).get(30)
    v2_id = v2.schema_id(topic)
    assert v2_id != v1_id
    assert client.get_versions(subject) == [1, 2]
    messages = read_all(kafka.bootstrap_servers, topic, expected=2)
    assert schema_ids(messages) == {(0, v1_id), (0, v2_id)}
    assert confluent_deserialize(registry_url, topic, messages) == [
        {"id": 1, "name": "old", "email": None},
        {"id": 2, "name": "new", "email": None, "phone": "555"}]

    # Incompatible: a new required field (no default) can't read the old data.
    v3_schema = copy.deepcopy(v2_schema)
    v3_schema["fields"].append({"name": "age", "type": "int"})
    check = client.test_compatibility(subject, v3_schema)
    assert not check.is_compatible and any("age" in m for m in check.messages)
    v3 = AvroSerializer(client, v3_schema)
    with pytest.raises(IncompatibleSchemaError) as info:
        v3.warm_up(topic)
    assert (info.value.http_status, info.value.error_code) == (409, 409)
    assert "age" in info.value.message  # the registry's own explanation
    with producer_for(kafka, v3) as producer:
        with pytest.raises(SerializationError, match="age") as send_info:
            producer.send(topic, {"id": 3, "name": "x", "phone": None, "age": 4})
    assert isinstance(send_info.value.__cause__, IncompatibleSchemaError)
    assert client.get_versions(subject) == [1, 2]


def test_bad_value_is_a_serialization_error_naming_the_field(kafka, make_topic, registry_url):
    topic = make_topic()
    with producer_for(kafka, AvroSerializer(SchemaRegistryClient(registry_url), CUSTOMER)) as p:
        with pytest.raises(SerializationError, match=r"Customer\.id is <seven>.*expected int"):
            p.send(topic, {"id": "seven", "name": "a"})
        p.send(topic, {"id": 7, "name": "a"}).get(30)  # the producer is still fine
