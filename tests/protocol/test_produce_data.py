"""ProduceData (the sender's Produce body) encodes exactly as the ProduceRequest it
replaces, and caps the version at v12 when a topic id is unknown (KIP-516)."""
from __future__ import annotations

import uuid

import pytest

from kprod._internals.protocol import types
from kprod._internals.protocol.client import (
    ProduceData, encode_client_request, produce_partitions, version_cap,
)
from kprod._internals.protocol.primitives import ZERO_UUID

TOPIC_A = uuid.UUID(int=0x1234)
BATCH_1 = memoryview(b"\x01" * 70)
BATCH_2 = memoryview(b"\x02" * 33)


def _both(topic_b_id: uuid.UUID):
    data = ProduceData("txn", -1, 30000, [
        ("a", TOPIC_A, [(0, BATCH_1), (3, BATCH_2)]),
        ("b", topic_b_id, [(1, BATCH_2)])])
    typed = types.ProduceRequest(transactional_id="txn", acks=-1, timeout_ms=30000, topic_data=[
        types.TopicProduceData(name="a", topic_id=TOPIC_A, partition_data=[
            types.PartitionProduceData(index=0, records=BATCH_1),
            types.PartitionProduceData(index=3, records=BATCH_2)]),
        types.TopicProduceData(name="b", topic_id=topic_b_id, partition_data=[
            types.PartitionProduceData(index=1, records=BATCH_2)])])
    return data, typed


def _wire(body, version: int) -> bytes:
    chunks, size = encode_client_request("Produce", version, 7, "client", body)
    wire = b"".join(bytes(chunk) for chunk in chunks)
    assert len(wire) == size + 4
    return wire


@pytest.mark.parametrize("version", [3, 8, 9, 12, 13])
def test_same_bytes_as_the_message_objects(version):
    data, typed = _both(uuid.UUID(int=0x5678))
    assert _wire(data, version) == _wire(typed, version)


def test_batches_are_not_copied():
    data, _ = _both(uuid.UUID(int=0x5678))
    chunks, _ = encode_client_request("Produce", 12, 7, None, data)
    assert sum(1 for chunk in chunks if chunk is BATCH_1) == 1
    assert sum(1 for chunk in chunks if chunk is BATCH_2) == 2


def test_unknown_topic_id_caps_at_v12():
    known, typed_known = _both(uuid.UUID(int=0x5678))
    unknown, typed_unknown = _both(ZERO_UUID)
    assert version_cap("Produce", known) is None is version_cap("Produce", typed_known)
    assert version_cap("Produce", unknown) == 12 == version_cap("Produce", typed_unknown)


def test_partitions_of_either_form():
    data, typed = _both(uuid.UUID(int=0x5678))
    expected = [("a", 0, BATCH_1), ("a", 3, BATCH_2), ("b", 1, BATCH_2)]
    assert produce_partitions(data) == expected == produce_partitions(typed)
