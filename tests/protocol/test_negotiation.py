from __future__ import annotations

import pytest

from kprod._internals.protocol import (API_KEYS, SUPPORTED_VERSIONS, broker_versions,
                                       decode_response, encode_response, pick_version, types)
from kprod.errors import UnsupportedVersionError


def test_api_keys_table():
    assert API_KEYS == {
        "Produce": 0, "Metadata": 3, "FindCoordinator": 10, "SaslHandshake": 17,
        "ApiVersions": 18, "InitProducerId": 22, "AddPartitionsToTxn": 24,
        "AddOffsetsToTxn": 25, "EndTxn": 26, "TxnOffsetCommit": 28, "SaslAuthenticate": 36,
        "GetTelemetrySubscriptions": 71, "PushTelemetry": 72,
        # the admin client's (kprod.admin)
        "ListOffsets": 2, "CreateTopics": 19, "DeleteTopics": 20, "DescribeConfigs": 32}
    assert set(SUPPORTED_VERSIONS) == set(API_KEYS.values())


def test_highest_common_version():
    assert pick_version("Produce", {0: (3, 12)}) == 12
    assert pick_version(0, {0: (3, 20)}) == 13
    assert pick_version("Metadata", {3: (0, 13)}, supported=(0, 9)) == 9
    assert pick_version("InitProducerId", {22: (0, 6)}) == 5  # v6 unstable in 4.1


def test_no_common_version_names_api_and_ranges():
    with pytest.raises(UnsupportedVersionError, match=r"Produce \(key 0\): kprod supports 3-13, "
                                                      r"broker supports 0-2"):
        pick_version("Produce", {0: (0, 2)})
    with pytest.raises(UnsupportedVersionError, match="broker does not support EndTxn"):
        pick_version("EndTxn", {0: (3, 12)})
    with pytest.raises(ValueError, match="unknown API"):
        pick_version("Fetch", {})


def test_from_decoded_api_versions_response():
    raw = encode_response("ApiVersions", 3, 1, types.ApiVersionsResponse(api_keys=[
        types.ApiVersion(api_key=0, min_version=3, max_version=11),
        types.ApiVersion(api_key=3, min_version=0, max_version=12)]))
    _, resp = decode_response("ApiVersions", 3, raw)
    versions = broker_versions(resp)
    assert versions == {0: (3, 11), 3: (0, 12)}
    assert pick_version("Produce", versions) == 11
