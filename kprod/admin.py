"""A small admin client: topics, cluster description, offsets (Java's ``Admin``, a subset).

It speaks the Kafka protocol itself, over the producer's connection code (TLS, SASL,
ApiVersions negotiation, see :mod:`kprod._internals.admin_network`); each call blocks
the caller until it is done or its timeout (seconds; default ``default.api.timeout.ms``)
has passed::

    from kprod.admin import AdminClient, NewTopic

    with AdminClient({"bootstrap.servers": "localhost:9092"}) as admin:
        admin.create_topics([NewTopic("events", partitions=6, replication_factor=1,
                                      configs={"retention.ms": 3600000})])
        admin.describe_topics(["events"])["events"].partitions[0].leader
        admin.list_offsets("events")            # {("events", 0): ListedOffset(...), ...}

Every broker error is raised as its class from :mod:`kprod.errors` (one per error
code: ``TopicAlreadyExistsError``, ``InvalidReplicationFactorError``,
``PolicyViolationError``, ...), with the topic in the message; running out of time is
:class:`~kprod.errors.KafkaTimeoutError`, naming what was waited for.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from kprod._internals.admin_network import AdminNetwork, Deadline
from kprod._internals.protocol import types
from kprod.admin_types import (
    BrokerDescription, ClusterDescription, ConfigEntry, CreatedTopic, ListedOffset, NewTopic,
    OffsetSpec, PartitionDescription, TopicDescription, _is_int,
)
from kprod.config import AdminConfig
from kprod.errors import (
    BrokerError,
    BrokerNotAvailableError,
    ConfigError,
    InvalidMetadataError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    NotControllerError,
    RetriableError,
    ThrottlingQuotaExceededError,
    UnknownTopicOrPartitionError,
    error_for_code,
)

__all__ = [
    "AdminClient", "BrokerDescription", "ClusterDescription", "ConfigEntry", "CreatedTopic",
    "ListedOffset", "NewTopic", "OffsetSpec", "PartitionDescription", "TopicDescription",
]

TopicPartition = Tuple[str, int]

# DescribeConfigs resource type (Java ConfigResource.Type) and config sources
# (Java ConfigEntry.ConfigSource), by wire value.
_TOPIC_RESOURCE = 2
_CONFIG_SOURCES = {
    -1: "UNKNOWN", 1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG",
    3: "DYNAMIC_DEFAULT_BROKER_CONFIG", 4: "STATIC_BROKER_CONFIG", 5: "DEFAULT_CONFIG",
    6: "DYNAMIC_BROKER_LOGGER_CONFIG", 7: "CLIENT_METRICS_CONFIG", 8: "GROUP_CONFIG",
}
_ISOLATION_LEVELS = {"read_uncommitted": 0, "read_committed": 1}


# -- the client ------------------------------------------------------------------------

class AdminClient:
    """``AdminClient({"bootstrap.servers": "host:9092"})`` or
    ``AdminClient(bootstrap_servers="host:9092")``; settings as Java's
    ``AdminClientConfig`` (the producer's connection and security settings,
    ``request.timeout.ms``, ``default.api.timeout.ms``, ``retries``, ...). Thread-safe:
    calls from several threads take turns."""

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        self.config = AdminConfig(config, **kwargs)
        self._network = AdminNetwork(self.config)
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection. Idempotent; later calls raise IllegalStateError."""
        self._closed = True
        self._network.close()

    def __enter__(self) -> "AdminClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"AdminClient({','.join(self.config['bootstrap.servers'])}, {state})"

    # -- cluster ------------------------------------------------------------------------
    def describe_cluster(self, *, node: Optional[int] = None,
                         timeout: Optional[float] = None) -> ClusterDescription:
        """The brokers, the controller id and the cluster id; as broker ``node`` sees
        them if given (its id, as listed by the cluster), else as any broker does."""
        response = self._metadata([], self._deadline(timeout, "describe_cluster"),
                                  _node(node))
        brokers = sorted((BrokerDescription(b.node_id, b.host, b.port, b.rack)
                          for b in response.brokers), key=lambda b: b.node_id)
        controller = response.controller_id if response.controller_id >= 0 else None
        return ClusterDescription(response.cluster_id, controller, brokers)

    def list_topics(self, *, internal: bool = False,
                    timeout: Optional[float] = None) -> List[str]:
        """Names of every topic (internal ones such as ``__consumer_offsets`` too with
        ``internal=True``), sorted."""
        response = self._metadata(None, self._deadline(timeout, "list_topics"))
        return sorted(t.name for t in response.topics
                      if t.error_code == 0 and (internal or not t.is_internal))

    def describe_topics(self, topics: Union[str, Iterable[str]], *, node: Optional[int] = None,
                        timeout: Optional[float] = None) -> Dict[str, TopicDescription]:
        """Partitions, leaders, replicas and ISR of each topic; as broker ``node`` sees
        them if given. An unknown topic raises UnknownTopicOrPartitionError naming it."""
        names = _names(topics)
        deadline = self._deadline(timeout, f"describe_topics {names}")
        last: Optional[BaseException] = None
        while True:
            response = self._metadata(names, deadline, _node(node))
            try:
                return {name: _describe(_topic_of(response, name)) for name in names}
            except UnknownTopicOrPartitionError:
                raise
            except RetriableError as exc:    # e.g. LEADER_NOT_AVAILABLE right after creation
                last = exc
            self._network.backoff(0, deadline, last)

    def describe_configs(self, topic: str, *,
                         timeout: Optional[float] = None) -> Dict[str, ConfigEntry]:
        """Every config of ``topic``, by name, with where its value comes from."""
        _names(topic)
        deadline = self._deadline(timeout, f"describe_configs '{topic}'")
        body = types.DescribeConfigsRequest(resources=[types.DescribeConfigsResource(
            resource_type=_TOPIC_RESOURCE, resource_name=topic, configuration_keys=None)])
        response = self._network.request("DescribeConfigs", body, deadline)
        for result in response.results:
            if result.resource_name != topic:
                continue
            if result.error_code:
                raise error_for_code(result.error_code,
                                     _message(f"topic '{topic}'", result.error_message))
            return {c.name: ConfigEntry(c.name, c.value, _CONFIG_SOURCES.get(c.config_source,
                                                                              "UNKNOWN"),
                                        c.read_only, c.is_sensitive)
                    for c in result.configs}
        raise error_for_code(UnknownTopicOrPartitionError.code,
                             f"topic '{topic}': not in the DescribeConfigs response")

    # -- topics -------------------------------------------------------------------------
    def create_topics(self, topics: Iterable[NewTopic], *, validate_only: bool = False,
                      wait: bool = True,
                      timeout: Optional[float] = None) -> Dict[str, CreatedTopic]:
        """Create topics. With ``wait`` (the default) return only once every partition
        has a leader that serves it (:meth:`wait_for_leaders`); ``validate_only`` asks
        the broker to check the request without creating anything.

        A topic the broker refuses raises its error class (TopicAlreadyExistsError,
        InvalidReplicationFactorError, PolicyViolationError, ...), naming the topic;
        topics created in the same call stay created (the message lists them)."""
        wanted = list(topics)
        for topic in wanted:
            if not isinstance(topic, NewTopic):
                raise ConfigError(f"create_topics takes NewTopic objects, got {topic!r}")
        names = [t.name for t in wanted]
        if len(set(names)) != len(names):
            raise ConfigError(f"create_topics: a topic is named twice in {names}")
        if not wanted:
            return {}
        deadline = self._deadline(timeout, f"create_topics {names}")
        pending = {t.name: t for t in wanted}
        created: Dict[str, CreatedTopic] = {}
        failed: List[Tuple[str, BrokerError]] = []
        attempt = 0
        while pending:
            body = types.CreateTopicsRequest(
                topics=[_creatable(t) for t in pending.values()],
                timeout_ms=_wire_ms(deadline), validate_only=validate_only)
            response = self._to_controller("CreateTopics", body, deadline)
            retry: Optional[BaseException] = None
            for result in response.topics:
                if result.name not in pending:
                    continue
                if not result.error_code:
                    created[result.name] = CreatedTopic(result.name, result.topic_id,
                                                        result.num_partitions,
                                                        result.replication_factor)
                    del pending[result.name]
                    continue
                error = error_for_code(result.error_code,
                                       _message(f"topic '{result.name}'", result.error_message))
                if isinstance(error, (NotControllerError, ThrottlingQuotaExceededError)):
                    retry = error          # asked the wrong node / over the quota: again
                    continue
                failed.append((result.name, error))
                del pending[result.name]
            if failed:
                break
            if pending:
                self._network.backoff(attempt, deadline, retry)
                attempt += 1
        if failed:
            raise _first_failure(failed, created, "created")
        if wait and not validate_only:
            self._wait_for_leaders(list(created), deadline)
        return created

    def create_topic(self, name: str, partitions: int = -1, replication_factor: int = -1,
                     configs: Optional[Mapping[str, Any]] = None, *, wait: bool = True,
                     timeout: Optional[float] = None) -> CreatedTopic:
        """:meth:`create_topics` for one topic."""
        topic = NewTopic(name, partitions, replication_factor, dict(configs or {}))
        return self.create_topics([topic], wait=wait, timeout=timeout)[name]

    def delete_topics(self, topics: Union[str, Iterable[str]], *, wait: bool = True,
                      timeout: Optional[float] = None) -> None:
        """Delete topics. With ``wait`` (the default) return only once no broker lists
        them any more (so the names can be created again). An unknown topic raises
        UnknownTopicOrPartitionError naming it; the others are deleted all the same."""
        names = _names(topics)
        deadline = self._deadline(timeout, f"delete_topics {names}")
        pending = list(names)
        deleted: List[str] = []
        failed: List[Tuple[str, BrokerError]] = []
        attempt = 0
        while pending:
            body = types.DeleteTopicsRequest(
                topics=[types.DeleteTopicState(name=n) for n in pending], topic_names=pending,
                timeout_ms=_wire_ms(deadline))
            response = self._to_controller("DeleteTopics", body, deadline)
            retry: Optional[BaseException] = None
            for result in response.responses:
                if result.name not in pending:
                    continue
                if result.error_code:
                    error = error_for_code(result.error_code, _message(
                        f"topic '{result.name}'", result.error_message))
                    if isinstance(error, (NotControllerError, ThrottlingQuotaExceededError)):
                        retry = error
                        continue
                    failed.append((result.name, error))
                else:
                    deleted.append(result.name)
                pending.remove(result.name)
            if failed:
                break
            if pending:
                self._network.backoff(attempt, deadline, retry)
                attempt += 1
        if wait and deleted:
            self._wait_until_gone(deleted, deadline)
        if failed:
            raise _first_failure(failed, deleted, "deleted")

    # -- offsets ------------------------------------------------------------------------
    def list_offsets(self, partitions: Union[str, Iterable[TopicPartition],
                                             Mapping[TopicPartition, OffsetSpec]],
                     spec: Optional[OffsetSpec] = None, *,
                     isolation_level: str = "read_uncommitted",
                     timeout: Optional[float] = None) -> Dict[TopicPartition, ListedOffset]:
        """Offsets per partition, asked of each partition's leader.

        ``partitions``: a topic name (all its partitions), ``(topic, partition)`` pairs,
        or a mapping of pairs to their own :class:`OffsetSpec`; ``spec`` (default
        ``OffsetSpec.latest()``) applies to the first two forms."""
        if isolation_level not in _ISOLATION_LEVELS:
            raise ConfigError(f"isolation_level must be one of {sorted(_ISOLATION_LEVELS)}, "
                              f"got {isolation_level!r}")
        deadline = self._deadline(timeout, f"list_offsets {_describe_arg(partitions)}")
        return self._list_offsets(partitions, spec, _ISOLATION_LEVELS[isolation_level],
                                  deadline)

    def wait_for_leaders(self, topics: Union[str, Iterable[str]], *,
                         timeout: Optional[float] = None) -> None:
        """Return once every partition of ``topics`` has a leader, as every broker sees
        it, and that leader answers ListOffsets for it (so a produce right after does
        not meet NOT_LEADER_OR_FOLLOWER). Raises KafkaTimeoutError after ``timeout``,
        naming the partitions still without a leader."""
        names = _names(topics)
        self._wait_for_leaders(names, self._deadline(timeout, f"wait_for_leaders {names}"))

    # -- internals ----------------------------------------------------------------------
    def _deadline(self, timeout: Optional[float], what: str) -> Deadline:
        if timeout is None:
            return Deadline(self.config["default.api.timeout.ms"], what)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ConfigError(f"{what}: timeout must be a number of seconds >= 0, "
                              f"got {timeout!r}")
        return Deadline(timeout * 1000.0, what)

    def _metadata(self, topics: Optional[List[str]], deadline: Deadline,
                  node_id: Optional[int] = None) -> Any:
        body = types.MetadataRequest(
            topics=None if topics is None else [types.MetadataRequestTopic(name=t)
                                                for t in topics],
            allow_auto_topic_creation=False, include_topic_authorized_operations=False)
        if node_id is not None and node_id not in self._network.metadata.snapshot.brokers:
            self._metadata([], deadline)          # learn the brokers' addresses first
            if node_id not in self._network.metadata.snapshot.brokers:
                raise BrokerNotAvailableError(f"broker {node_id} is not in the cluster "
                                              f"metadata")
        response = self._network.request("Metadata", body, deadline, node_id)
        if response.error_code:      # v13+: e.g. REBOOTSTRAP_REQUIRED (KIP-1102)
            raise error_for_code(response.error_code, "Metadata request")
        self._network.update_metadata(response)
        return response

    def _to_controller(self, api: str, body: Any, deadline: Deadline) -> Any:
        """Send to the controller metadata names (KRaft brokers forward it, KIP-590);
        a connection failure there asks the metadata again."""
        while True:
            controller = self._metadata([], deadline).controller_id
            try:
                return self._network.request_once(api, body, deadline,
                                                  controller if controller >= 0 else None)
            except RetriableError as exc:
                if getattr(exc, "deadline", None) is deadline:
                    raise
                self._network.backoff(0, deadline, exc)

    def _list_offsets(self, partitions: Any, spec: Optional[OffsetSpec], isolation: int,
                      deadline: Deadline) -> Dict[TopicPartition, ListedOffset]:
        specs = self._offset_specs(partitions, spec, deadline)
        done: Dict[TopicPartition, ListedOffset] = {}
        pending = dict(specs)
        attempt = 0
        while pending:
            topics = sorted({t for t, _ in pending})
            response = self._metadata(topics, deadline)
            leaders, last = _leaders(response, pending)
            by_leader: Dict[int, List[TopicPartition]] = {}
            for tp, leader in leaders.items():
                by_leader.setdefault(leader, []).append(tp)
            for leader, tps in sorted(by_leader.items()):
                try:
                    answer = self._network.request_once(
                        "ListOffsets", _list_offsets_request(tps, pending, isolation,
                                                             deadline), deadline, leader)
                except RetriableError as exc:
                    if getattr(exc, "deadline", None) is deadline:
                        raise
                    last = exc
                    continue
                for topic in answer.topics:
                    for p in topic.partitions:
                        tp = (topic.name, p.partition_index)
                        if tp not in pending:
                            continue
                        if p.error_code:
                            error = error_for_code(p.error_code,
                                                   f"partition {tp[0]}-{tp[1]}")
                            if not error.retriable:
                                raise error
                            last = error         # leader moved / not ready yet: again
                            continue
                        done[tp] = ListedOffset(p.offset, p.timestamp, p.leader_epoch)
                        del pending[tp]
            if pending:
                self._network.backoff(attempt, deadline, last)
                attempt += 1
        return {tp: done[tp] for tp in specs}

    def _offset_specs(self, partitions: Any, spec: Optional[OffsetSpec],
                      deadline: Deadline) -> Dict[TopicPartition, OffsetSpec]:
        if isinstance(partitions, Mapping):
            if spec is not None:
                raise ConfigError("list_offsets: give spec either per partition (a mapping) "
                                  "or once, not both")
            specs = dict(partitions)
        else:
            spec = OffsetSpec.latest() if spec is None else spec
            if isinstance(partitions, str):
                description = self.describe_topics([partitions],
                                                   timeout=deadline.remaining_ms() / 1000)
                specs = {(partitions, p.partition): spec
                         for p in description[partitions].partitions}
            else:
                specs = {tp: spec for tp in partitions}
        for tp, each in specs.items():
            if not (isinstance(tp, tuple) and len(tp) == 2 and isinstance(tp[0], str)
                    and _is_int(tp[1]) and tp[1] >= 0):
                raise ConfigError(f"list_offsets: partitions are (topic, partition) pairs, "
                                  f"got {tp!r}")
            if not isinstance(each, OffsetSpec):
                raise ConfigError(f"list_offsets: {tp}: expected an OffsetSpec, got {each!r}")
        return specs

    def _wait_for_leaders(self, names: List[str], deadline: Deadline) -> None:
        missing = "not checked yet"
        last: Optional[BaseException] = None
        attempt = 0
        while True:
            try:
                missing = self._leaderless(names, deadline)
                if not missing:
                    # Metadata can name a leader a moment before that broker has taken
                    # the leadership over (KRaft publishes the image first): ask it.
                    self._list_offsets([(t, p.partition) for t in names
                                        for p in self.describe_topics(
                                            [t], timeout=max(deadline.remaining_ms(), 0) / 1000
                                        )[t].partitions],
                                       OffsetSpec.latest(), 0, deadline)
                    return
            except KafkaTimeoutError as exc:
                if getattr(exc, "deadline", None) is deadline:
                    raise deadline.timeout(last, f" (not ready: {missing})") from None
                last = exc
            except (InvalidMetadataError, RetriableError) as exc:
                last = exc
            try:
                self._network.backoff(min(attempt, 3), deadline, last)
            except KafkaTimeoutError:
                raise deadline.timeout(last, f" (not ready: {missing})") from None
            attempt += 1

    def _leaderless(self, names: List[str], deadline: Deadline) -> str:
        """What is not ready yet, as every broker sees it ("" when all is)."""
        cluster = self._metadata([], deadline)
        problems: List[str] = []
        for broker in sorted(b.node_id for b in cluster.brokers):
            response = self._metadata(names, deadline, broker)
            for name in names:
                topic = next((t for t in response.topics if t.name == name), None)
                if topic is None or topic.error_code:
                    code = topic.error_code if topic is not None else None
                    reason = error_for_code(code).name if code else "not listed"
                    problems.append(f"broker {broker}: topic '{name}' {reason}")
                    continue
                if not topic.partitions:
                    problems.append(f"broker {broker}: topic '{name}' has no partitions")
                without = sorted(p.partition_index for p in topic.partitions
                                 if p.leader_id < 0 or p.error_code)
                if without:
                    problems.append(f"broker {broker}: '{name}' partitions {without} "
                                    f"without a leader")
        return "; ".join(problems)

    def _wait_until_gone(self, names: List[str], deadline: Deadline) -> None:
        remaining = "not checked yet"
        while True:
            cluster = self._metadata([], deadline)
            still = []
            for broker in sorted(b.node_id for b in cluster.brokers):
                response = self._metadata(names, deadline, broker)
                still += [f"broker {broker}: '{t.name}'" for t in response.topics
                          if t.error_code != UnknownTopicOrPartitionError.code]
            if not still:
                return
            remaining = ", ".join(still)
            try:
                self._network.backoff(0, deadline, None)
            except KafkaTimeoutError:
                raise deadline.timeout(detail=f" (still listed: {remaining})") from None


# -- helpers ---------------------------------------------------------------------------

def _node(node: Optional[int]) -> Optional[int]:
    if node is not None and (not _is_int(node) or node < 0):
        raise ConfigError(f"node must be a broker id (int >= 0), got {node!r}")
    return node


def _names(topics: Union[str, Iterable[str]]) -> List[str]:
    names = [topics] if isinstance(topics, str) else list(topics)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"topic names must be non-empty strings, got {name!r}")
    if not names:
        raise ConfigError("no topics given")
    return list(dict.fromkeys(names))


def _describe_arg(partitions: Any) -> str:
    if isinstance(partitions, str):
        return f"'{partitions}'"
    shown = list(partitions)[:5]
    return repr(shown)[:200]


def _message(where: str, broker_message: Optional[str]) -> str:
    return f"{where}: {broker_message}" if broker_message else where


def _wire_ms(deadline: Deadline) -> int:
    return int(min(max(deadline.remaining_ms(), 0), 2**31 - 1))


def _config_value(value: Any) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"    # Java's boolean config text
    return str(value)


def _creatable(topic: NewTopic) -> Any:
    assignments = [types.CreatableReplicaAssignment(partition_index=p, broker_ids=list(ids))
                   for p, ids in sorted((topic.assignments or {}).items())]
    configs = [types.CreatableTopicConfig(name=k, value=_config_value(v))
               for k, v in topic.configs.items()]
    return types.CreatableTopic(name=topic.name, num_partitions=topic.partitions,
                                replication_factor=topic.replication_factor,
                                assignments=assignments, configs=configs)


def _first_failure(failed: List[Tuple[str, BrokerError]], succeeded: Iterable[str],
                   verb: str) -> BrokerError:
    """The first topic's error; the message also names the other failures and the
    topics the same call did handle."""
    error = failed[0][1]
    extra = []
    if len(failed) > 1:
        extra.append("also failed: " + ", ".join(f"'{n}' ({e.name})" for n, e in failed[1:]))
    done = list(succeeded)
    if done:
        extra.append(f"{verb}: " + ", ".join(f"'{n}'" for n in done))
    if not extra:
        return error
    return type(error)(f"{error.message}; " + "; ".join(extra))


def _topic_of(response: Any, name: str) -> Any:
    for topic in response.topics:
        if topic.name == name:
            if topic.error_code:
                raise error_for_code(topic.error_code, f"topic '{name}'")
            return topic
    raise error_for_code(UnknownTopicOrPartitionError.code,
                         f"topic '{name}': not in the Metadata response")


def _describe(topic: Any) -> TopicDescription:
    partitions = [PartitionDescription(p.partition_index,
                                       p.leader_id if p.leader_id >= 0 else None,
                                       p.leader_epoch, list(p.replica_nodes), list(p.isr_nodes),
                                       list(p.offline_replicas))
                  for p in sorted(topic.partitions, key=lambda p: p.partition_index)]
    return TopicDescription(topic.name, topic.topic_id, topic.is_internal, partitions)


def _leaders(response: Any, pending: Mapping[TopicPartition, OffsetSpec]
             ) -> Tuple[Dict[TopicPartition, int], Optional[BaseException]]:
    """Leader per pending partition; partitions without one now are left out (the
    caller retries them). An unknown topic or partition raises."""
    leaders: Dict[TopicPartition, int] = {}
    last: Optional[BaseException] = None
    for name in sorted({t for t, _ in pending}):
        try:
            topic = _topic_of(response, name)
        except RetriableError as exc:
            if isinstance(exc, UnknownTopicOrPartitionError):
                raise
            last = exc
            continue
        by_index = {p.partition_index: p for p in topic.partitions}
        for tp in pending:
            if tp[0] != name:
                continue
            p = by_index.get(tp[1])
            if p is None:
                raise error_for_code(UnknownTopicOrPartitionError.code,
                                     f"partition {name}-{tp[1]}: topic '{name}' has "
                                     f"{len(by_index)} partitions")
            if p.leader_id < 0:
                last = error_for_code(p.error_code or LeaderNotAvailableError.code,
                                      f"partition {name}-{tp[1]}")
                continue
            leaders[tp] = p.leader_id
    return leaders, last


def _list_offsets_request(tps: List[TopicPartition], specs: Mapping[TopicPartition, OffsetSpec],
                          isolation: int, deadline: Deadline) -> Any:
    by_topic: Dict[str, List[Any]] = {}
    for tp in tps:
        by_topic.setdefault(tp[0], []).append(types.ListOffsetsPartition(
            partition_index=tp[1], timestamp=specs[tp].timestamp))
    return types.ListOffsetsRequest(
        replica_id=-1,            # a client, not a follower
        isolation_level=isolation,
        topics=[types.ListOffsetsTopic(name=t, partitions=ps) for t, ps in by_topic.items()],
        timeout_ms=_wire_ms(deadline))
