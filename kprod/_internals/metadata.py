"""Cluster metadata cache: brokers, topics, partitions, leaders, leader epochs, topic ids.

Written only by the I/O thread (from Metadata responses and KIP-951 leader
hints in Produce responses); read by send() threads through immutable
snapshots swapped atomically, so the send path takes no lock.
"""
from __future__ import annotations

import builtins
import threading
import time
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from kprod._internals.protocol import types
from kprod.errors import (
    InvalidTopicError, TopicAuthorizationError, UnknownTopicOrPartitionError, error_for_code,
)

TopicPartition = Tuple[str, int]

# A topic the broker says is unknown, invalid or not ours to write leaves the snapshot.
_TOPIC_GONE = {UnknownTopicOrPartitionError.code, InvalidTopicError.code,
               TopicAuthorizationError.code}


class Broker(NamedTuple):
    node_id: int
    host: str
    port: int
    rack: Optional[str]


class PartitionInfo(NamedTuple):
    partition: int
    leader: int              # -1 when none
    leader_epoch: int
    replicas: Tuple[int, ...]
    isr: Tuple[int, ...]


class TopicInfo:
    """An immutable view of one topic, built per metadata update."""

    __slots__ = ("name", "topic_id", "partitions", "num_partitions", "available", "error_code",
                 "leaders")

    def __init__(self, name: str, topic_id, partitions: List[PartitionInfo],
                 error_code: int = 0) -> None:
        self.name = name
        self.topic_id = topic_id
        self.partitions = sorted(partitions, key=lambda p: p.partition)
        self.num_partitions = len(self.partitions)
        self.available = [p.partition for p in self.partitions if p.leader >= 0]
        self.leaders = {p.partition: p.leader for p in self.partitions}
        self.error_code = error_code


class ClusterSnapshot:
    """The Cluster view handed to custom partitioners (Java ``Cluster``)."""

    def __init__(self, brokers: Dict[int, Broker], topics: Dict[str, TopicInfo],
                 cluster_id: Optional[str], controller_id: int) -> None:
        self.brokers = brokers
        self.topics = topics
        self.cluster_id = cluster_id
        self.controller_id = controller_id

    def partitions_for_topic(self, topic: str) -> List[int]:
        info = self.topics.get(topic)
        return [p.partition for p in info.partitions] if info else []

    def available_partitions_for_topic(self, topic: str) -> List[int]:
        info = self.topics.get(topic)
        return list(info.available) if info else []

    def leader_for(self, topic: str, partition: int) -> Optional[int]:
        info = self.topics.get(topic)
        if info is None:
            return None
        leader = info.leaders.get(partition, -1)
        return leader if leader >= 0 else None


class Metadata:
    """Metadata cache plus the bookkeeping of which topics are needed and when to refresh."""

    def __init__(self, max_age_ms: int, refresh_backoff_ms: int, max_idle_ms: int) -> None:
        self.max_age_ms = max_age_ms
        self.refresh_backoff_ms = refresh_backoff_ms
        self.max_idle_ms = max_idle_ms
        self.snapshot = ClusterSnapshot({}, {}, None, -1)
        self.needed: Dict[str, float] = {}         # topic -> last use (monotonic s)
        self.topic_errors: Dict[str, int] = {}     # last error code per topic
        self.need_update = True
        self.last_refresh_ms = -1e18
        self.last_attempt_ms = -1e18
        self._cond = threading.Condition()
        self.fatal_error: Optional[BaseException] = None
        # Authentication failed (wrong credentials, bad certificate): waiters fail at
        # once instead of waiting out max.block.ms; cleared by the next good answer.
        self.auth_error: Optional[BaseException] = None
        # Set by the owner: the last failure of each unreachable broker, (host:port,
        # error), so a metadata timeout can say why (NetworkClient.failures).
        self.failures: Optional[Callable[[], List[Tuple[str, BaseException]]]] = None

    # -- send() side -----------------------------------------------------------------
    def topic(self, name: str) -> Optional[TopicInfo]:
        return self.snapshot.topics.get(name)

    def request_topic(self, name: str) -> None:
        if name not in self.needed:
            self.needed[name] = time.monotonic()
            self.need_update = True

    def wait_for_topic(self, name: str, timeout_s: float, wakeup) -> TopicInfo:
        """Block until ``name`` has partitions, at most ``timeout_s`` (max.block.ms)."""
        from kprod.errors import KafkaTimeoutError
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                info = self.snapshot.topics.get(name)
                if info is not None and info.num_partitions > 0:
                    return info
                if self.fatal_error is not None:
                    raise self.fatal_error
                if self.auth_error is not None:
                    raise self.auth_error
                code = self.topic_errors.get(name, 0)
                if code not in (0, 3, 5):  # beyond unknown topic / leader not available
                    raise error_for_code(code, f"topic '{name}'")
                self.request_topic(name)
                self.need_update = True
                wakeup()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    hint = (" (the topic does not exist and was not auto-created)"
                            if code == UnknownTopicOrPartitionError.code else "")
                    message = (f"Topic '{name}' not present in metadata after "
                               f"{timeout_s * 1000:.0f} ms (max.block.ms){hint}")
                    cause = None
                    failures = self.failures() if self.failures is not None else []
                    if failures:
                        # Say what happened to each broker that could not be used.
                        message += ("; " if self.snapshot.brokers else
                                    "; no broker could be reached: ") + "; ".join(
                            str(error) for _, error in failures)
                        cause = _one_cause([e for _, e in failures])
                    raise KafkaTimeoutError(message) from cause
                self._cond.wait(min(remaining, 0.5))

    # -- I/O thread side ---------------------------------------------------------------
    def time_to_next_update(self, now_ms: float) -> float:
        """ms until a refresh is due (0 = now)."""
        backoff_left = self.last_attempt_ms + self.refresh_backoff_ms - now_ms
        if self.need_update:
            return max(backoff_left, 0)
        return max(self.last_refresh_ms + self.max_age_ms - now_ms, backoff_left, 0)

    def request_update(self) -> None:
        self.need_update = True

    def topics_to_fetch(self, active: Iterable[str] = ()) -> List[str]:
        """Topics to ask for: every topic used within ``metadata.max.idle.ms``.

        ``active`` (topics with queued or in-flight batches) counts as used now. An
        idle topic is forgotten, from the snapshot too, so its next send waits for
        fresh metadata instead of trusting leaders nobody refreshes any more."""
        now = time.monotonic()
        for topic in active:
            self.needed[topic] = now
        expired = [t for t, used in self.needed.items() if (now - used) * 1000 > self.max_idle_ms]
        if expired:
            for topic in expired:
                del self.needed[topic]
            topics = {t: info for t, info in self.snapshot.topics.items() if t not in expired}
            snap = self.snapshot
            self.snapshot = ClusterSnapshot(snap.brokers, topics, snap.cluster_id,
                                            snap.controller_id)
        return sorted(self.needed)

    def touch(self, topic: str) -> None:
        self.needed[topic] = time.monotonic()

    def update(self, response: types.MetadataResponse, now_ms: float) -> None:
        brokers = {b.node_id: Broker(b.node_id, b.host, b.port, b.rack)
                   for b in response.brokers}
        topics = dict(self.snapshot.topics)
        incomplete = False
        for t in response.topics:
            name = t.name
            if name is None:     # only a topic asked for by id comes back nameless
                continue
            code = t.error_code
            self.topic_errors[name] = code
            if code != 0:
                if code in _TOPIC_GONE:
                    topics.pop(name, None)
                continue
            parts = [PartitionInfo(p.partition_index, p.leader_id, p.leader_epoch,
                                   tuple(p.replica_nodes), tuple(p.isr_nodes))
                     for p in t.partitions]
            topics[name] = TopicInfo(name, t.topic_id, parts)
            # A partition without a leader (election in progress) is skipped by the
            # partitioners until it has one: ask again after retry.backoff.ms instead
            # of trusting this answer until metadata.max.age.ms (Java does the same).
            incomplete = incomplete or any(p.leader < 0 for p in parts)
        self.snapshot = ClusterSnapshot(brokers, topics, response.cluster_id,
                                        response.controller_id)
        self.need_update = incomplete
        self.auth_error = None
        self.last_refresh_ms = now_ms
        self.last_attempt_ms = now_ms      # a re-ask waits retry.backoff.ms
        with self._cond:
            self._cond.notify_all()

    def update_leader(self, tp: TopicPartition, leader_id: int, leader_epoch: int,
                      endpoints: Dict[int, Broker]) -> bool:
        """KIP-951: apply a leader hint from a Produce response if it is newer."""
        snap = self.snapshot
        info = snap.topics.get(tp[0])
        if info is None:
            return False
        parts = []
        changed = False
        for p in info.partitions:
            if p.partition == tp[1] and leader_epoch > p.leader_epoch and leader_id >= 0:
                p = p._replace(leader=leader_id, leader_epoch=leader_epoch)
                changed = True
            parts.append(p)
        if not changed:
            return False
        topics = dict(snap.topics)
        topics[tp[0]] = TopicInfo(info.name, info.topic_id, parts, info.error_code)
        brokers = dict(snap.brokers)
        brokers.update(endpoints)
        self.snapshot = ClusterSnapshot(brokers, topics, snap.cluster_id, snap.controller_id)
        return True

    def failed_attempt(self, now_ms: float) -> None:
        self.last_attempt_ms = now_ms

    def auth_failed(self, error: BaseException) -> None:
        self.auth_error = error
        with self._cond:
            self._cond.notify_all()

    def fail_waiters(self, error: BaseException) -> None:
        self.fatal_error = error
        with self._cond:
            self._cond.notify_all()

    def leader_for(self, tp: TopicPartition) -> Optional[int]:
        info = self.snapshot.topics.get(tp[0])
        if info is None:
            return None
        leader = info.leaders.get(tp[1], -1)
        return leader if leader >= 0 else None


def _one_cause(errors: List[BaseException]) -> Optional[BaseException]:
    """The errors as one ``__cause__``: the error itself, or an ExceptionGroup of them
    (Python 3.11+; before that, the first)."""
    errors = [e for e in errors if isinstance(e, Exception)]
    if len(errors) <= 1:
        return errors[0] if errors else None
    group = getattr(builtins, "ExceptionGroup", None)
    if group is None:
        return errors[0]
    return group("the last failure of each broker", errors)
