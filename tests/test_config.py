"""Producer settings: Java names and defaults, keyword forms, validation messages."""
import logging
import pathlib
import re

import pytest

from kprod.config import SETTINGS, ProducerConfig, settings_table
from kprod.errors import ConfigError

BOOT = {"bootstrap.servers": "127.0.0.1:9092"}


def test_java_defaults():
    c = ProducerConfig(BOOT)
    expected = {
        "acks": "all", "enable.idempotence": True, "linger.ms": 5, "batch.size": 16384,
        "buffer.memory": 33554432, "max.block.ms": 60000, "retries": 2**31 - 1,
        "retry.backoff.ms": 100, "retry.backoff.max.ms": 1000, "delivery.timeout.ms": 120000,
        "request.timeout.ms": 30000, "max.in.flight.requests.per.connection": 5,
        "max.request.size": 1048576, "compression.type": "none", "metadata.max.age.ms": 300000,
        "partitioner.adaptive.partitioning.enable": True,
        "partitioner.availability.timeout.ms": 0, "partitioner.ignore.keys": False,
        "transactional.id": None, "transaction.timeout.ms": 60000,
        "security.protocol": "PLAINTEXT", "compression.zstd.level": 3,
        "compression.lz4.level": 9, "compression.gzip.level": -1,
    }
    for name, value in expected.items():
        assert c[name] == value, name
    assert c.acks == -1


def test_keyword_and_dotted_forms_are_the_same_setting():
    c = ProducerConfig(bootstrap_servers="h:1,h2:2", linger_ms=7, compression_type="LZ4")
    assert c["bootstrap.servers"] == ("h:1", "h2:2")
    assert c["linger.ms"] == 7 and c["linger_ms"] == 7
    assert c["compression.type"] == "lz4"
    with pytest.raises(ConfigError, match="given twice"):
        ProducerConfig({"linger.ms": 1}, linger_ms=2, bootstrap_servers="h:1")


def test_strings_are_coerced_like_java_properties():
    c = ProducerConfig(BOOT, **{"linger.ms": "20", "enable.idempotence": "false", "acks": 1})
    assert c["linger.ms"] == 20 and c["enable.idempotence"] is False and c.acks == 1


def test_unknown_setting_suggests_the_close_one():
    with pytest.raises(ConfigError, match=r"Unknown producer setting 'lingr.ms'.*'linger.ms'"):
        ProducerConfig(BOOT, **{"lingr.ms": 5})


def test_removed_settings_point_to_the_replacement():
    with pytest.raises(ConfigError, match="max.block.ms"):
        ProducerConfig(BOOT, **{"block.on.buffer.full": True})


@pytest.mark.parametrize("name,value,fragment", [
    ("acks", "2", "one of 'all'"),
    ("batch.size", -1, "batch.size"),
    ("linger.ms", "soon", "linger.ms"),
    ("max.in.flight.requests.per.connection", 0, "max.in.flight"),
    ("compression.type", "brotli", "compression.type"),
    ("compression.zstd.level", 23, "compression.zstd.level"),
    ("enable.idempotence", "maybe", "true or false"),
    ("linger.ms", True, "linger.ms"),
])
def test_wrong_type_or_range_names_the_setting(name, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ProducerConfig(BOOT, **{name: value})


def test_missing_and_malformed_bootstrap():
    with pytest.raises(ConfigError, match="bootstrap.servers"):
        ProducerConfig()
    with pytest.raises(ConfigError, match="host:port"):
        ProducerConfig({"bootstrap.servers": "localhost"})


def test_explicit_idempotence_conflicts_are_errors():
    with pytest.raises(ConfigError, match="acks"):
        ProducerConfig(BOOT, **{"enable.idempotence": True, "acks": "1"})
    with pytest.raises(ConfigError, match="at most 5"):
        ProducerConfig(BOOT, **{"enable.idempotence": True,
                                "max.in.flight.requests.per.connection": 6})
    with pytest.raises(ConfigError, match="retries"):
        ProducerConfig(BOOT, **{"enable.idempotence": True, "retries": 0})


def test_implicit_idempotence_is_silently_disabled_by_conflicts():
    c = ProducerConfig(BOOT, acks="0")
    assert c["enable.idempotence"] is False
    c = ProducerConfig(BOOT, max_in_flight_requests_per_connection=10)
    assert c["enable.idempotence"] is False


def test_transactions_require_idempotence():
    with pytest.raises(ConfigError, match="transactional.id"):
        ProducerConfig(BOOT, **{"transactional.id": "t", "enable.idempotence": False})
    with pytest.raises(ConfigError, match="acks"):
        ProducerConfig(BOOT, **{"transactional.id": "t", "acks": "1"})
    assert ProducerConfig(BOOT, transactional_id="t")["enable.idempotence"] is True


def test_delivery_timeout_bound(caplog):
    with pytest.raises(ConfigError, match="delivery.timeout.ms"):
        ProducerConfig(BOOT, delivery_timeout_ms=1000, request_timeout_ms=2000)
    with caplog.at_level(logging.WARNING, logger="kprod.config"):
        c = ProducerConfig(BOOT, request_timeout_ms=200000)
    assert c["delivery.timeout.ms"] == 200005
    assert "delivery.timeout.ms" in caplog.text


def test_secrets_are_hidden_in_repr_and_errors():
    c = ProducerConfig(BOOT, sasl_password="hunter2")
    assert "hunter2" not in repr(c)
    with pytest.raises(ConfigError) as info:
        ProducerConfig(BOOT, sasl_password=12345)
    assert "12345" not in str(info.value)


def test_every_setting_is_documented_in_the_table():
    table = settings_table()
    for s in SETTINGS:
        assert f"`{s.name}`" in table
        assert s.doc


# -- every setting does something (issue 14) ------------------------------------------------

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Settings whose only effect is a refusal in config.py itself (value -> error).
REFUSED_IN_CONFIG = {"transaction.two.phase.commit.enable"}
# Read by work on another branch (KIP-714 telemetry); this set must match reality both
# ways, so the entry has to go once that code reads the setting.
NOT_READ_YET: set = set()


def _sources_outside_config() -> str:
    files = [p for p in (ROOT / "kprod").rglob("*") if p.suffix in (".py", ".pyx")
             and p != ROOT / "kprod" / "config.py" and "generated" not in p.parts]
    return "\n".join(p.read_text() for p in files)


def test_every_setting_is_read_outside_config_or_refused():
    sources = _sources_outside_config()
    unread = {s.name for s in SETTINGS
              if not re.search(r"""["']""" + re.escape(s.name) + r"""["']""", sources)}
    assert unread == REFUSED_IN_CONFIG | NOT_READ_YET


def test_two_phase_commit_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match=r"transaction.two.phase.commit.enable.*KIP-939.*not "
                                          r"supported"):
        ProducerConfig(BOOT, transaction_two_phase_commit_enable=True)
    assert ProducerConfig(BOOT, transaction_two_phase_commit_enable=False)


def test_client_id_defaults_like_java():
    first = ProducerConfig(BOOT)["client.id"]
    second = ProducerConfig(BOOT)["client.id"]
    assert re.fullmatch(r"producer-\d+", first)
    assert int(second.split("-")[1]) == int(first.split("-")[1]) + 1
    assert ProducerConfig(BOOT, transactional_id="orders")["client.id"] == "producer-orders"
    assert ProducerConfig(BOOT, client_id="mine")["client.id"] == "mine"


def test_plugin_configs_are_the_user_settings_and_client_id():
    c = ProducerConfig(BOOT, linger_ms=7)
    configs = c.plugin_configs()
    assert configs["linger.ms"] == 7 and configs["bootstrap.servers"] == ("127.0.0.1:9092",)
    assert configs["client.id"] == c["client.id"] and "batch.size" not in configs


@pytest.mark.parametrize("name,value", [("metrics.num.samples", 0),
                                        ("metrics.sample.window.ms", 0),
                                        ("metrics.recording.level", "VERBOSE")])
def test_metric_settings_are_validated(name, value):
    with pytest.raises(ConfigError, match=re.escape(name)):
        ProducerConfig(BOOT, **{name: value})


def test_readme_configuration_table_is_generated_from_config():
    import importlib.util
    spec = importlib.util.spec_from_file_location("update_config_table",
                                                  ROOT / "docs" / "update_config_table.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = (ROOT / "README.md").read_text()
    start, end = generator.table_span(text)
    assert text[start:end] == settings_table() + "\n", \
        "README.md's table is stale: run .venv/bin/python docs/update_config_table.py"
