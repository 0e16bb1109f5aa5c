"""AdminClient's settings and arguments: typed errors before anything is sent (no broker)."""
from __future__ import annotations

import pytest

from kprod.admin import AdminClient, NewTopic, OffsetSpec
from kprod.config import AdminConfig
from kprod.errors import ConfigError, KafkaTimeoutError


def test_defaults_are_java_admin_client_config() -> None:
    cfg = AdminConfig({"bootstrap.servers": "127.0.0.1:9092"})
    assert cfg["request.timeout.ms"] == 30000
    assert cfg["default.api.timeout.ms"] == 60000
    assert cfg["receive.buffer.bytes"] == 65536        # the producer's is 32768
    assert cfg["connections.max.idle.ms"] == 300000    # the producer's is 540000
    assert cfg["retry.backoff.ms"] == 100 and cfg["retry.backoff.max.ms"] == 1000
    assert cfg["security.protocol"] == "PLAINTEXT"
    assert AdminConfig(bootstrap_servers="h:1", request_timeout_ms="5000")["request.timeout.ms"] \
        == 5000


def test_secrets_are_hidden_in_repr() -> None:
    cfg = AdminConfig({"bootstrap.servers": "h:1", "sasl.password": "s3cret"})
    assert "s3cret" not in repr(cfg) and "<hidden>" in repr(cfg)


def test_unusable_tls_settings_fail_at_construction(tmp_path) -> None:
    with pytest.raises(ConfigError):
        AdminClient({"bootstrap.servers": "127.0.0.1:9092", "security.protocol": "SSL",
                     "ssl.truststore.location": str(tmp_path / "missing.pem")})


@pytest.mark.parametrize("config, match", [
    ({}, "bootstrap.servers"),
    ({"bootstrap.servers": "nohost"}, "host:port"),
    ({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": 5}, "linger.ms.*producer"),
    ({"bootstrap.servers": "127.0.0.1:9092", "request.timeout.mss": 5}, "request.timeout.ms"),
    ({"bootstrap.servers": "127.0.0.1:9092", "default.api.timeout.ms": -1},
     "default.api.timeout.ms"),
])
def test_bad_settings_are_config_errors(config, match) -> None:
    with pytest.raises(ConfigError, match=match):
        AdminClient(config)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": ""}, "name"),
    ({"name": "t", "partitions": 0}, "partitions"),
    ({"name": "t", "replication_factor": 40000}, "replication_factor"),
    ({"name": "t", "partitions": 2, "assignments": {0: [1]}}, "assignments"),
    ({"name": "t", "configs": {"retention.ms": [1]}}, "retention.ms"),
])
def test_bad_new_topic_is_a_config_error(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        NewTopic(**kwargs)


def test_no_broker_is_a_timeout_naming_the_call() -> None:
    with AdminClient(bootstrap_servers="127.0.0.1:1", reconnect_backoff_ms=10) as client:
        with pytest.raises(KafkaTimeoutError, match="describe_cluster"):
            client.describe_cluster(timeout=1)


@pytest.mark.parametrize("timestamp", [-5, 1.5, "0", True])
def test_bad_offset_timestamp(timestamp) -> None:
    with pytest.raises(ConfigError, match="timestamp"):
        OffsetSpec.for_timestamp(timestamp)


def test_offset_specs() -> None:
    assert repr(OffsetSpec.earliest()) == "OffsetSpec.earliest()"
    assert OffsetSpec.for_timestamp(7) == OffsetSpec.for_timestamp(7) != OffsetSpec.latest()
    assert [OffsetSpec.latest().timestamp, OffsetSpec.earliest().timestamp,
            OffsetSpec.max_timestamp().timestamp] == [-1, -2, -3]   # the wire values


def test_bad_call_arguments_are_config_errors() -> None:
    with AdminClient(bootstrap_servers="127.0.0.1:1") as client:
        with pytest.raises(ConfigError, match="NewTopic"):
            client.create_topics(["name"])                        # type: ignore[list-item]
        with pytest.raises(ConfigError, match="twice"):
            client.create_topics([NewTopic("a"), NewTopic("a")])
        with pytest.raises(ConfigError, match="timeout"):
            client.list_topics(timeout=-1)
        with pytest.raises(ConfigError, match="isolation_level"):
            client.list_offsets("t", isolation_level="committed")
        with pytest.raises(ConfigError, match="pairs"):
            client.list_offsets([("t", -1)])
        with pytest.raises(ConfigError, match="node"):
            client.describe_cluster(node=-3)
        with pytest.raises(ConfigError, match="topic names"):
            client.delete_topics([""])
