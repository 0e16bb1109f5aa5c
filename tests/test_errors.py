"""kprod.errors: one class per broker error code, Java's names and Java's hierarchy.

The oracle is Kafka itself: a few lines of Java print the Errors enum of the cached
kafka-clients jar (code, name, exception class, retriable, superclasses), and every
row must match kprod's table.
"""
from __future__ import annotations

import subprocess
import time

import pytest

import kprod
from kprod import errors
from kprod.errors import (
    ApiError,
    AuthenticationError,
    AuthorizationError,
    BrokerError,
    InvalidConfigurationError,
    InvalidMetadataError,
    KafkaError,
    RetriableError,
    for_code,
)
from kprod.testing import artifacts

_DUMP_JAVA = """
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.errors.*;
public class DumpErrors {
  public static void main(String[] args) {
    for (Errors e : Errors.values()) {
      ApiException ex = e.exception();
      if (ex == null) continue;
      StringBuilder supers = new StringBuilder();
      for (Class<?> c = ex.getClass().getSuperclass(); c != RuntimeException.class;
           c = c.getSuperclass()) supers.append(c.getSimpleName()).append(',');
      System.out.println(e.code() + "\\t" + e.name() + "\\t" + ex.getClass().getSimpleName()
          + "\\t" + (ex instanceof RetriableException) + "\\t" + supers);
    }
  }
}
"""

# The two Java classes kprod splits (see the kprod.errors docstring), by code.
_RENAMED = {7: "RequestTimedOutError", 2: "CorruptMessageError"}


def _camel(enum_name: str) -> str:
    for suffix in ("_EXCEPTION", "_ERROR"):
        enum_name = enum_name[: -len(suffix)] if enum_name.endswith(suffix) else enum_name
    return "".join(part.capitalize() for part in enum_name.split("_")) + "Error"


@pytest.fixture(scope="module")
def java_errors(tmp_path_factory: pytest.TempPathFactory) -> list:
    try:
        java, libs = artifacts.java_executable(), artifacts.kafka_libs_dir()
    except artifacts.KafkaArtifactsError as exc:
        pytest.skip(f"no JDK or kafka-clients jar: {exc}")
    source = tmp_path_factory.mktemp("errors") / "DumpErrors.java"
    source.write_text(_DUMP_JAVA)
    out = subprocess.run([java, "-cp", str(libs / "*"), str(source)], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    rows = []
    for line in out.splitlines():
        code, name, java_class, retriable, supers = line.split("\t")
        rows.append((int(code), name, java_class, retriable == "true",
                     set(filter(None, supers.split(",")))))
    assert len(rows) > 120
    return rows


@pytest.mark.kafka
def test_every_java_error_code_has_its_class(java_errors) -> None:
    for code, name, java_class, retriable, supers in java_errors:
        cls = for_code(code)
        assert cls.code == code and cls.name == name, (code, cls)
        expected = _RENAMED.get(code) or java_class.removesuffix("Exception") + "Error"
        assert cls.__name__ == expected, (code, cls.__name__, java_class)
        assert getattr(errors, expected) is cls
        assert getattr(errors, _camel(name)) is cls, f"alias {_camel(name)} for {name}"
        assert cls.retriable is retriable, (name, retriable)
        assert issubclass(cls, RetriableError) is retriable, name
        assert issubclass(cls, AuthorizationError) is ("AuthorizationException" in supers), name
        assert issubclass(cls, InvalidMetadataError) is ("InvalidMetadataException" in supers)
        assert issubclass(cls, AuthenticationError) is ("AuthenticationException" in supers)
        configuration = "InvalidConfigurationException" in supers or code == 40
        assert issubclass(cls, InvalidConfigurationError) is configuration, name
        assert issubclass(cls, ApiError) and issubclass(cls, KafkaError)
    assert {row[0] for row in java_errors} == set(errors._BY_CODE), "codes Kafka does not define"


def test_for_code_round_trips_and_builds_instances() -> None:
    assert len(errors._BY_CODE) >= 127
    for code, cls in errors._BY_CODE.items():
        assert for_code(code) is cls
        assert errors.error_class(code) is cls
        err = errors.error_for_code(code, "topic 'x'")
        assert type(err) is cls and err.code == code and err.message == "topic 'x'"
        assert str(err) == f"{cls.name}: topic 'x'"
        assert errors.is_retriable(code) is cls.retriable
    with pytest.raises(ValueError, match="NONE"):
        for_code(0)
    newer = for_code(999)   # a code from a newer broker: typed, stable, not retriable
    assert newer is for_code(999) and issubclass(newer, BrokerError) and newer.code == 999
    assert not newer.retriable


def test_java_style_names_and_bases() -> None:
    from kprod.errors import GroupAuthorizationError, GroupAuthorizationFailedError

    assert GroupAuthorizationFailedError is GroupAuthorizationError is for_code(30)
    assert errors.MessageTooLargeError is kprod.RecordTooLargeError is for_code(10)
    assert errors.TopicAlreadyExistsError is errors.TopicExistsError
    assert errors.InvalidConfigError is InvalidConfigurationError is for_code(40)
    assert ApiError is BrokerError
    for name in ("TopicAuthorizationError", "ClusterAuthorizationError",
                 "TransactionalIdAuthorizationError", "DelegationTokenAuthorizationError"):
        assert issubclass(getattr(errors, name), AuthorizationError), name
    for name in ("NotLeaderOrFollowerError", "UnknownTopicOrPartitionError",
                 "LeaderNotAvailableError", "NotEnoughReplicasError", "RequestTimedOutError",
                 "KafkaTimeoutError", "BufferExhaustedError", "KafkaConnectionError"):
        assert issubclass(getattr(errors, name), RetriableError), name
    # Java's catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException)
    for code in (90, 45, 59, 29, 53):
        with pytest.raises((errors.ProducerFencedError, errors.OutOfOrderSequenceError,
                            AuthorizationError)):
            raise errors.error_for_code(code)
    assert issubclass(errors.CorruptMessageError, errors.CorruptRecordError)
    assert errors.CorruptMessageError.retriable and not errors.CorruptRecordError.retriable


def test_every_class_agrees_with_its_retriable_flag() -> None:
    classes = [v for v in vars(errors).values()
               if isinstance(v, type) and issubclass(v, KafkaError)]
    assert len(classes) > 150
    for cls in classes:
        assert cls.retriable is issubclass(cls, RetriableError), cls


def test_moved_classes_stay_importable_where_they_were() -> None:
    from kprod._internals.connection import UnsupportedSaslMechanismError
    from kprod._internals.transactions import TransactionAbortedError
    from kprod._native.bufferpool import StaleBufferError

    assert UnsupportedSaslMechanismError is errors.UnsupportedSaslMechanismError is for_code(33)
    assert issubclass(UnsupportedSaslMechanismError, AuthenticationError)
    assert TransactionAbortedError is errors.TransactionAbortedError
    assert TransactionAbortedError is kprod.TransactionAbortedError
    assert StaleBufferError is errors.StaleBufferError
    assert issubclass(StaleBufferError, errors.IllegalStateError)
    assert issubclass(StaleBufferError, BufferError)


def test_invalid_topic_name_is_invalid_topic_error(kafka) -> None:
    with kprod.Producer(bootstrap_servers=kafka.bootstrap_servers, max_block_ms=10_000) as p:
        with pytest.raises(errors.InvalidTopicError) as info:
            p.send("no spaces allowed", b"x").get(timeout=30)
    assert isinstance(info.value, InvalidConfigurationError)
    assert "no spaces allowed" in str(info.value)


def test_rejected_timestamp_arrives_typed_in_the_future(kafka, make_topic) -> None:
    topic = make_topic(configs={"message.timestamp.before.max.ms": "3600000"})
    with kprod.Producer(bootstrap_servers=kafka.bootstrap_servers) as p:
        old = int(time.time() * 1000) - 24 * 3600 * 1000
        future = p.send(topic, b"yesterday", timestamp=old)
        with pytest.raises(errors.InvalidTimestampError) as info:
            future.get(timeout=30)
        assert future.exception() is info.value and info.value.code == 32
        assert not info.value.retriable
        assert p.send(topic, b"now").get(timeout=30).offset == 0
