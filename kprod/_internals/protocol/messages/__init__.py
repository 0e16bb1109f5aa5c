"""Registry of the messages kprod speaks: one schema module per API."""
from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

from ..schema import Message
from . import (add_offsets_to_txn, add_partitions_to_txn, api_versions, create_topics,
               delete_topics, describe_configs, end_txn, find_coordinator,
               get_telemetry_subscriptions, init_producer_id, list_offsets, metadata,
               produce, push_telemetry, sasl_authenticate, sasl_handshake, txn_offset_commit)


class Api(NamedTuple):
    name: str          # e.g. "Produce"
    key: int
    request: Message
    response: Message
    supported: Tuple[int, int]  # versions kprod will use (min, max)


def _api(name: str, module, supported: Tuple[int, int]) -> Api:
    req, resp = module.REQUEST, module.RESPONSE
    assert req.api_key == resp.api_key and req.name == name + "Request"
    return Api(name, req.api_key, req, resp, supported)


# ``supported`` stays inside each spec's validVersions; it leaves out versions
# the 4.1 spec marks latestVersionUnstable (InitProducerId v6, KIP-939).
APIS: Tuple[Api, ...] = (
    _api("Produce", produce, (3, 13)),
    _api("Metadata", metadata, (0, 13)),
    _api("FindCoordinator", find_coordinator, (0, 6)),
    _api("SaslHandshake", sasl_handshake, (0, 1)),
    _api("ApiVersions", api_versions, (0, 4)),
    _api("InitProducerId", init_producer_id, (0, 5)),
    _api("AddPartitionsToTxn", add_partitions_to_txn, (0, 5)),
    _api("AddOffsetsToTxn", add_offsets_to_txn, (0, 4)),
    _api("EndTxn", end_txn, (0, 5)),
    _api("TxnOffsetCommit", txn_offset_commit, (0, 5)),
    _api("SaslAuthenticate", sasl_authenticate, (0, 2)),
    _api("GetTelemetrySubscriptions", get_telemetry_subscriptions, (0, 0)),
    _api("PushTelemetry", push_telemetry, (0, 0)),
    # The admin client's (kprod.admin).
    _api("ListOffsets", list_offsets, (1, 10)),
    _api("CreateTopics", create_topics, (2, 7)),
    _api("DeleteTopics", delete_topics, (1, 6)),
    _api("DescribeConfigs", describe_configs, (1, 4)),
)

BY_KEY: Dict[int, Api] = {api.key: api for api in APIS}
BY_NAME: Dict[str, Api] = {api.name: api for api in APIS}

#: name -> API key, e.g. ``API_KEYS["Produce"] == 0``.
API_KEYS: Dict[str, int] = {api.name: api.key for api in APIS}
#: API key -> kprod's (min, max) supported version.
SUPPORTED_VERSIONS: Dict[int, Tuple[int, int]] = {api.key: api.supported for api in APIS}
