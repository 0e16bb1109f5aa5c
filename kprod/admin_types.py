"""The admin client's arguments and results (Java's ``NewTopic``, ``OffsetSpec``,
``TopicDescription``, ...): plain values, importable from :mod:`kprod.admin`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence
from uuid import UUID

from kprod.errors import ConfigError

__all__ = [
    "BrokerDescription", "ClusterDescription", "ConfigEntry", "CreatedTopic", "ListedOffset",
    "NewTopic", "OffsetSpec", "PartitionDescription", "TopicDescription",
]


# -- arguments -------------------------------------------------------------------------

@dataclass(frozen=True)
class NewTopic:
    """A topic to create (Java ``NewTopic``). ``partitions`` / ``replication_factor`` -1
    take the broker's ``num.partitions`` / ``default.replication.factor``;
    ``assignments`` (partition -> broker ids) replaces both."""

    name: str
    partitions: int = -1
    replication_factor: int = -1
    configs: Mapping[str, Any] = field(default_factory=dict)
    assignments: Optional[Mapping[int, Sequence[int]]] = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"topic name must be a non-empty string, got {self.name!r}")
        where = f"topic '{self.name}'"
        if self.assignments is not None:
            if self.partitions != -1 or self.replication_factor != -1:
                raise ConfigError(f"{where}: give either assignments or partitions and "
                                  f"replication_factor, not both")
        if not _is_int(self.partitions) or not (self.partitions == -1
                                                 or 1 <= self.partitions <= 2**31 - 1):
            raise ConfigError(f"{where}: partitions must be >= 1 (or -1 for the broker's "
                              f"default), got {self.partitions!r}")
        if not _is_int(self.replication_factor) or not (
                self.replication_factor == -1 or 1 <= self.replication_factor <= 32767):
            raise ConfigError(f"{where}: replication_factor must be in 1..32767 (or -1 for "
                              f"the broker's default), got {self.replication_factor!r}")
        for key, value in self.configs.items():
            if not isinstance(key, str) or not key:
                raise ConfigError(f"{where}: config names must be non-empty strings, "
                                  f"got {key!r}")
            if value is not None and not isinstance(value, (str, int, float)):
                raise ConfigError(f"{where}: config {key!r} must be a string, number or "
                                  f"bool, got {type(value).__name__}")


class OffsetSpec:
    """Which offset :meth:`AdminClient.list_offsets` asks for (Java ``OffsetSpec``)."""

    __slots__ = ("timestamp",)

    def __init__(self, timestamp: int) -> None:
        self.timestamp = timestamp      # the ListOffsets request's wire value

    @classmethod
    def earliest(cls) -> "OffsetSpec":
        return cls(-2)

    @classmethod
    def latest(cls) -> "OffsetSpec":
        """The log end offset (read_uncommitted) or last stable offset (read_committed)."""
        return cls(-1)

    @classmethod
    def max_timestamp(cls) -> "OffsetSpec":
        """The offset of the record with the highest timestamp (KIP-734)."""
        return cls(-3)

    @classmethod
    def for_timestamp(cls, timestamp_ms: int) -> "OffsetSpec":
        """The first offset whose timestamp is >= ``timestamp_ms`` (-1 if there is none)."""
        if not _is_int(timestamp_ms) or timestamp_ms < 0:
            raise ConfigError(f"timestamp must be a non-negative int of ms, got {timestamp_ms!r}")
        return cls(timestamp_ms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OffsetSpec) and other.timestamp == self.timestamp

    def __hash__(self) -> int:
        return hash(self.timestamp)

    def __repr__(self) -> str:
        names = {-1: "latest()", -2: "earliest()", -3: "max_timestamp()"}
        return "OffsetSpec." + names.get(self.timestamp, f"for_timestamp({self.timestamp})")


# -- results ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BrokerDescription:
    node_id: int
    host: str
    port: int
    rack: Optional[str]


@dataclass(frozen=True)
class ClusterDescription:
    cluster_id: Optional[str]
    controller_id: Optional[int]      # KRaft brokers name a live broker (KIP-590)
    brokers: List[BrokerDescription]


@dataclass(frozen=True)
class PartitionDescription:
    partition: int
    leader: Optional[int]             # None while there is no leader
    leader_epoch: int
    replicas: List[int]
    isr: List[int]
    offline_replicas: List[int]


@dataclass(frozen=True)
class TopicDescription:
    name: str
    topic_id: UUID
    internal: bool
    partitions: List[PartitionDescription]   # by partition number


@dataclass(frozen=True)
class CreatedTopic:
    name: str
    topic_id: UUID                    # zero UUID from brokers before CreateTopics v7
    partitions: int                   # -1 from brokers before CreateTopics v5
    replication_factor: int


@dataclass(frozen=True)
class ConfigEntry:
    name: str
    value: Optional[str]              # None for sensitive values
    source: str                       # Java ConfigEntry.ConfigSource name
    read_only: bool
    sensitive: bool

    @property
    def is_default(self) -> bool:
        return self.source == "DEFAULT_CONFIG"


@dataclass(frozen=True)
class ListedOffset:
    offset: int                       # -1: no record at or after the timestamp
    timestamp: int                    # -1 unless a timestamp spec found a record
    leader_epoch: int


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
