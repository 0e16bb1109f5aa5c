"""The client's own codec entry points, used by the connections: Produce requests and
responses go through the native codec (kprod._native.produce_request / produce_response:
one per request, on the I/O thread, where the generated Python codec cost ~10 us each way),
every other message through the generated classes (:mod:`.api`).

The native response objects have the generated classes' attribute names
(``responses[i].partition_responses[j].error_code``, ``current_leader.leader_id``,
``node_endpoints``), so handlers read either the same way.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from kprod._native.produce_request import encode_produce_request
from kprod._native.produce_response import decode_produce_frame

from .api import EncodedRequest, decode_response, encode_request
from .generated.produce import ProduceRequest
from .primitives import ZERO_UUID


class ProduceData:
    """A Produce request as the sender hands it over: the native encoder's input as it
    is, without a ProduceRequest, TopicProduceData and PartitionProduceData per request
    and topic and batch (building them cost more than encoding the framing).

    ``topics``: ``[(name, topic_id, [(partition, records), ...]), ...]``, the topic id
    ZERO_UUID when the metadata has none."""

    __slots__ = ("transactional_id", "acks", "timeout_ms", "topics", "max_version")

    def __init__(self, transactional_id: Optional[str], acks: int, timeout_ms: int,
                 topics: List[Tuple[str, Any, List[Tuple[int, Any]]]],
                 ids_known: Optional[bool] = None) -> None:
        """``ids_known``: whether every topic has an id, if the caller knows (the
        Sender does, having looked them up); else it is found from ``topics``."""
        self.transactional_id = transactional_id
        self.acks = acks
        self.timeout_ms = timeout_ms
        self.topics = topics
        if ids_known is None:
            ids_known = all(topic_id != ZERO_UUID for _, topic_id, _ in topics)
        # KIP-516: v13 names topics by id only, so an unknown id keeps it at v12.
        self.max_version = None if ids_known else 12

    @classmethod
    def of(cls, request: ProduceRequest) -> "ProduceData":
        """The same request from the typed message."""
        return cls(request.transactional_id, request.acks, request.timeout_ms,
                   [(topic.name, topic.topic_id,
                     [(part.index, part.records) for part in topic.partition_data])
                    for topic in request.topic_data])


def produce_partitions(body: Any) -> List[Tuple[str, int, Any]]:
    """``[(topic, partition, records), ...]`` of a Produce request body, either form."""
    if type(body) is ProduceData:
        return [(name, index, records) for name, _, parts in body.topics
                for index, records in parts]
    return [(topic.name, part.index, part.records)
            for topic in body.topic_data for part in topic.partition_data]


def version_cap(api: str, body: Any) -> Optional[int]:
    """The newest version that can carry ``body``, if lower than the codec's: a Produce
    with a topic whose id is unknown cannot be v13 (KIP-516 addresses topics by id);
    Java's Sender caps such a request at v12 the same way."""
    if api == "Produce" and type(body) is ProduceRequest:
        body = ProduceData.of(body)
    if api == "Produce" and type(body) is ProduceData:
        return body.max_version
    return None


def encode_client_request(api: str, version: int, correlation_id: int,
                          client_id: Optional[str], body: Any) -> EncodedRequest:
    """A framed request (size prefix first); record batches stay the caller's views."""
    if api == "Produce" and type(body) is ProduceRequest:
        body = ProduceData.of(body)
    if api == "Produce" and type(body) is ProduceData:
        by_id = version >= 13            # KIP-516: topics by id from v13
        chunks, size = encode_produce_request(
            version, correlation_id, client_id, body.transactional_id, body.acks,
            body.timeout_ms, [(topic_id if by_id else name, parts)
                              for name, topic_id, parts in body.topics])
        return EncodedRequest(chunks, size)
    return encode_request(api, version, correlation_id, client_id, body)


def decode_client_response(api: str, version: int, frame: Any,
                           expected_correlation_id: int) -> Tuple[int, Any]:
    """``(correlation_id, body)`` from a response frame without its size prefix."""
    if api == "Produce":
        return decode_produce_frame(version, frame, expected_correlation_id)
    return decode_response(api, version, frame, expected_correlation_id=expected_correlation_id)
