"""Every producer setting: name, type, default, allowed values, and validation; and the
admin client's (:class:`AdminConfig`, the producer's connection and security settings
plus Java's ``AdminClientConfig`` ones).

Names and defaults follow the Java client's ``ProducerConfig`` (Kafka 4.x,
including KIP-1030's linger.ms=5). Settings are given with Kafka's dotted
names (``"linger.ms"``) or as keywords (``linger_ms=``). Validation happens
once, at construction, and every problem is a :class:`ConfigError` naming the
setting.
"""
from __future__ import annotations

import difflib
import itertools
import logging
from dataclasses import dataclass, replace
from typing import (Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Sequence,
                    Tuple)

from kprod.errors import ConfigError

log = logging.getLogger("kprod.config")

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
NO_DEFAULT = object()
_CLIENT_IDS = itertools.count(1)     # Java's PRODUCER_CLIENT_ID_SEQUENCE


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str            # int, bool, str, list, choice, object, password
    default: Any
    doc: str
    low: Optional[int] = None
    high: Optional[int] = None
    choices: Tuple[str, ...] = ()
    secret: bool = False

    def coerce(self, raw: Any) -> Any:
        """Turn a user value into this setting's type, or raise ConfigError."""
        try:
            value = _COERCE[self.kind](self, raw)
        except ConfigError:
            raise
        except (TypeError, ValueError):
            shown = "<hidden>" if self.secret else repr(raw)
            raise ConfigError(
                f"Invalid value {shown} for setting '{self.name}': expected {self.describe()}"
            ) from None
        if self.kind == "int" and value is not None:
            if (self.low is not None and value < self.low) or (
                    self.high is not None and value > self.high):
                raise ConfigError(
                    f"Invalid value {value} for setting '{self.name}': must be in "
                    f"[{self.low if self.low is not None else '-inf'}, "
                    f"{self.high if self.high is not None else 'inf'}]")
        return value

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "int":
            return f"an integer in [{self.low}, {self.high if self.high is not None else 'inf'}]"
        return {"bool": "true or false", "str": "a string", "password": "a string",
                "list": "a list or a comma-separated string",
                "object": "an object, callable or name"}[self.kind]


def _to_int(s: Setting, raw: Any) -> Optional[int]:
    if raw is None and s.default is None:
        return None
    if isinstance(raw, bool):
        raise TypeError
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, (int, str)):
        return int(raw)
    raise TypeError


def _to_bool(s: Setting, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise TypeError


def _to_str(s: Setting, raw: Any) -> Optional[str]:
    if raw is None and (s.default is None or s.kind == "password"):
        return None
    if isinstance(raw, str):
        return raw
    raise TypeError


def _to_choice(s: Setting, raw: Any) -> str:
    value = str(raw).strip()
    for choice in s.choices:
        if value.lower() == choice.lower():
            return choice
    raise ValueError


def _to_list(s: Setting, raw: Any) -> Tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, Iterable):
        items = tuple(raw)
        if all(isinstance(i, str) for i in items):
            return items
    raise TypeError


_COERCE: Dict[str, Callable[[Setting, Any], Any]] = {
    "int": _to_int, "bool": _to_bool, "str": _to_str, "password": _to_str,
    "choice": _to_choice, "list": _to_list, "object": lambda s, raw: raw,
}


def _int(name: str, default: Any, doc: str, low: Optional[int] = 0,
         high: Optional[int] = INT64_MAX) -> Setting:
    return Setting(name, "int", default, doc, low=low, high=high)


def _choice(name: str, default: Any, doc: str, *choices: str) -> Setting:
    return Setting(name, "choice", default, doc, choices=tuple(choices))


SETTINGS: Tuple[Setting, ...] = (
    Setting("bootstrap.servers", "list", NO_DEFAULT,
            "host:port pairs used for the first connection to the cluster."),
    Setting("client.id", "str", "", "Name sent with every request, for broker logs and quotas; "
            "empty: 'producer-<transactional.id>' or 'producer-N' (N counts producers, as "
            "in Java)."),
    _choice("client.dns.lookup", "use_all_dns_ips",
            "use_all_dns_ips: a connection tries every address of its host; "
            "resolve_canonical_bootstrap_servers_only: each bootstrap host becomes the "
            "canonical names of its addresses, and a connection uses its host's first "
            "address (as Java).",
            "use_all_dns_ips", "resolve_canonical_bootstrap_servers_only"),
    _choice("acks", "all", "Acknowledgements the leader waits for: 0, 1 or all (-1).",
            "all", "-1", "0", "1"),
    _int("buffer.memory", 33554432, "Total bytes of memory for records waiting to be sent."),
    _int("batch.size", 16384, "Target size in bytes of one partition's batch.", high=INT32_MAX),
    _int("linger.ms", 5, "How long to wait for more records before sending a batch."),
    _int("delivery.timeout.ms", 120000,
         "Upper bound from send() to success or failure, retries included.", high=INT32_MAX),
    _int("request.timeout.ms", 30000, "How long to wait for a response to one request.",
         high=INT32_MAX),
    _int("max.block.ms", 60000,
         "How long send()/partitions_for() may block for metadata or buffer memory."),
    _int("max.request.size", 1048576, "Largest request (and largest record) in bytes.",
         high=INT32_MAX),
    _int("max.in.flight.requests.per.connection", 5,
         "Unacknowledged requests per broker connection.", low=1, high=INT32_MAX),
    _int("retries", INT32_MAX, "How often a failed batch is retried (bounded by "
         "delivery.timeout.ms).", high=INT32_MAX),
    _int("retry.backoff.ms", 100, "First retry backoff; doubles per attempt (KIP-580)."),
    _int("retry.backoff.max.ms", 1000, "Cap of the exponential retry backoff."),
    _int("reconnect.backoff.ms", 50, "First wait before reconnecting to a broker."),
    _int("reconnect.backoff.max.ms", 1000, "Cap of the exponential reconnect backoff."),
    _int("socket.connection.setup.timeout.ms", 10000, "First connection setup timeout."),
    _int("socket.connection.setup.timeout.max.ms", 30000,
         "Cap of the exponential connection setup timeout."),
    _int("connections.max.idle.ms", 540000, "Close connections idle for this long."),
    _int("send.buffer.bytes", 131072, "SO_SNDBUF; -1 uses the OS default.", low=-1,
         high=INT32_MAX),
    _int("receive.buffer.bytes", 32768, "SO_RCVBUF; -1 uses the OS default.", low=-1,
         high=INT32_MAX),
    _int("metadata.max.age.ms", 300000, "Refresh metadata at least this often."),
    _int("metadata.max.idle.ms", 300000,
         "Forget a topic's metadata when unused for this long.", low=5000),
    _choice("metadata.recovery.strategy", "rebootstrap",
            "When every known broker is unreachable: 'rebootstrap' connects to "
            "bootstrap.servers again (KIP-899); 'none' keeps retrying the known brokers.",
            "none", "rebootstrap"),
    _int("metadata.recovery.rebootstrap.trigger.ms", 300000,
         "With 'rebootstrap': rebootstrap also when metadata was wanted but not obtained "
         "for this long (KIP-1102)."),
    _choice("compression.type", "none", "Codec for record batches.",
            "none", "gzip", "snappy", "lz4", "zstd"),
    _int("compression.gzip.level", -1, "gzip level (KIP-390): 1-9, or -1 for the default.",
         low=-1, high=9),
    _int("compression.lz4.level", 9, "lz4 level (KIP-390).", low=1, high=17),
    _int("compression.zstd.level", 3, "zstd level (KIP-390).", low=-131072, high=22),
    Setting("enable.idempotence", "bool", True,
            "Exactly one copy of each record per partition, in order, despite retries."),
    Setting("transactional.id", "str", None, "Enables transactions; stable across restarts."),
    _int("transaction.timeout.ms", 60000,
         "How long the coordinator waits before aborting an open transaction.",
         high=INT32_MAX),
    Setting("transaction.two.phase.commit.enable", "bool", False,
            "Two-phase commit with an external coordinator (KIP-939): not supported; "
            "true is refused."),
    Setting("partitioner.class", "object", None,
            "A Partitioner object, class or 'module.Class' name (Java's RoundRobinPartitioner "
            "name too); None uses the built-in partitioner."),
    Setting("partitioner.ignore.keys", "bool", False,
            "Ignore keys when choosing partitions (sticky partitioning for all)."),
    Setting("partitioner.adaptive.partitioning.enable", "bool", True,
            "Send more to partitions whose brokers are faster (KIP-794)."),
    _int("partitioner.availability.timeout.ms", 0,
         "Skip partitions whose leader could not accept data for this long; 0 disables."),
    Setting("key.serializer", "object", None,
            "Serializer for keys: object, class, callable, name ('string', 'json', ...), Java "
            "class name or 'module.Class' name."),
    Setting("value.serializer", "object", None, "Serializer for values (as key.serializer)."),
    Setting("interceptor.classes", "object", (), "Producer interceptors (on_send, "
            "on_acknowledgement, on_send_error, configure, close): objects, classes or "
            "'module.Class' names."),
    Setting("metric.reporters", "object", (), "Metrics reporters (init, metric_change, "
            "metric_removal, close; as Java's MetricsReporter): objects, classes or "
            "'module.Class' names."),
    _int("metrics.sample.window.ms", 30000, "Window of one sample of the rate, average and "
         "maximum metrics.", low=1),
    _int("metrics.num.samples", 2, "Samples kept for the rate, average and maximum metrics.",
         low=1, high=INT32_MAX),
    _choice("metrics.recording.level", "INFO", "Metrics recorded at and above this level; "
            "every producer metric is INFO, as in Java.", "INFO", "DEBUG", "TRACE"),
    Setting("enable.metrics.push", "bool", True,
            "Push metrics to the brokers when they ask for them (KIP-714 client metrics "
            "subscriptions)."),
    _choice("security.protocol", "PLAINTEXT", "Transport and authentication.",
            "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    Setting("ssl.truststore.location", "str", None, "PEM file of trusted CA certificates."),
    Setting("ssl.truststore.certificates", "str", None, "PEM text of trusted CAs."),
    Setting("ssl.keystore.location", "str", None, "PEM file with the client certificate "
            "(and key)."),
    Setting("ssl.keystore.certificate.chain", "str", None, "PEM text of the client chain."),
    Setting("ssl.keystore.key", "password", None, "PEM text of the client key.", secret=True),
    Setting("ssl.key.password", "password", None, "Password of the client key.", secret=True),
    Setting("ssl.endpoint.identification.algorithm", "str", "https",
            "'https' verifies the broker's host name; empty disables it."),
    Setting("ssl.protocol", "str", "TLSv1.3", "Highest TLS version the context may use "
            "(as Java's SSLContext protocol): TLSv1.3, TLSv1.2 or TLS."),
    Setting("ssl.enabled.protocols", "list", ("TLSv1.2", "TLSv1.3"), "Allowed TLS versions."),
    Setting("ssl.cipher.suites", "list", (), "Allowed cipher suites; empty = defaults."),
    Setting("ssl.context", "object", None, "A ready ssl.SSLContext (overrides ssl.*)."),
    Setting("sasl.mechanism", "str", "GSSAPI",
            "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER. Java's default GSSAPI "
            "(Kerberos) is not supported: a SASL security.protocol needs one of these set."),
    Setting("sasl.jaas.config", "password", None, "JAAS line (PLAIN/SCRAM login modules).",
            secret=True),
    Setting("sasl.username", "str", None, "SASL user name."),
    Setting("sasl.password", "password", None, "SASL password.", secret=True),
    Setting("sasl.oauthbearer.token.provider", "object", None,
            "Callable returning (token, expiry_epoch_seconds) for OAUTHBEARER (KIP-255)."),
    _int("connections.max.reauth.ms", 0, "Re-authenticate sessions before this age (KIP-368)."),
    Setting("kprod.fork.reinitialize", "bool", False,
            "kprod only: in a child process after os.fork(), the producer's first call "
            "fails the records inherited from the parent and starts afresh (I/O thread, "
            "connections, producer id); false: the child's calls raise."),
)

SETTINGS_BY_NAME: Dict[str, Setting] = {s.name: s for s in SETTINGS}

# Settings the Java client removed; a clear pointer beats "unknown setting".
REMOVED = {
    "block.on.buffer.full": "removed in Kafka 0.9; use 'max.block.ms'",
    "metadata.fetch.timeout.ms": "removed in Kafka 2.0; use 'max.block.ms'",
    "timeout.ms": "removed in Kafka 2.0; use 'request.timeout.ms'",
}


def normalize_name(name: str) -> str:
    """``bootstrap_servers`` -> ``bootstrap.servers`` (Kafka names have no underscores)."""
    return name.replace("_", ".")


class _Settings(Mapping[str, Any]):
    """A read-only mapping of validated settings by dotted name; ``_TABLE`` (name ->
    Setting) says which are secret in its repr, which shows what the user set."""

    _TABLE: Dict[str, Setting] = {}
    _values: Dict[str, Any]
    user_set: frozenset[str]

    def __getitem__(self, name: str) -> Any:
        return self._values[normalize_name(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {k: ("<hidden>" if self._TABLE[k].secret and v is not None else v)
                 for k, v in self._values.items() if k in self.user_set}
        return f"{type(self).__name__}({shown})"


class ProducerConfig(_Settings):
    """Validated, typed producer settings (read-only mapping by dotted name).

    ``user_set`` holds the names the user gave explicitly; Java's rules for
    idempotence and delivery.timeout.ms depend on it.
    """

    _TABLE = SETTINGS_BY_NAME

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        given: Dict[str, Any] = {}
        for source in (config or {}), kwargs:
            for raw_name, value in source.items():
                name = normalize_name(str(raw_name))
                if name in given:
                    raise ConfigError(f"Setting '{name}' given twice")
                given[name] = value
        self.user_set = frozenset(given)
        values: Dict[str, Any] = {}
        for name, raw in given.items():
            setting = SETTINGS_BY_NAME.get(name)
            if setting is None:
                raise ConfigError(_unknown_message(name))
            values[name] = setting.coerce(raw)
        for setting in SETTINGS:
            if setting.name not in values:
                if setting.default is NO_DEFAULT:
                    raise ConfigError(f"Missing required setting '{setting.name}'")
                values[setting.name] = setting.default
        self._values = values
        self._check_combinations()

    def _check_combinations(self) -> None:
        v, user = self._values, self.user_set
        _check_bootstrap(v["bootstrap.servers"])
        if v["acks"] == "-1":
            v["acks"] = "all"
        if v["transaction.two.phase.commit.enable"]:
            raise ConfigError(
                "Setting 'transaction.two.phase.commit.enable' (KIP-939, two-phase commit with "
                "an external transaction coordinator) is not supported by kprod; leave it false")
        if not v["client.id"]:
            # Java ProducerConfig.maybeOverrideClientId.
            v["client.id"] = (f"producer-{v['transactional.id']}" if v["transactional.id"]
                              else f"producer-{next(_CLIENT_IDS)}")
        transactional = v["transactional.id"] is not None
        if transactional and v["transactional.id"] == "":
            raise ConfigError("Setting 'transactional.id' must not be empty")
        explicit_idem = "enable.idempotence" in user and v["enable.idempotence"]
        if transactional and "enable.idempotence" in user and not v["enable.idempotence"]:
            raise ConfigError("Cannot set 'transactional.id' without idempotence: "
                              "'enable.idempotence' must be true")
        conflicts = []
        if v["acks"] != "all":
            conflicts.append(f"'acks' must be 'all' (got {v['acks']!r})")
        if v["max.in.flight.requests.per.connection"] > 5:
            conflicts.append("'max.in.flight.requests.per.connection' must be at most 5 (got "
                             f"{v['max.in.flight.requests.per.connection']})")
        if v["retries"] == 0:
            conflicts.append("'retries' must be greater than 0")
        if v["enable.idempotence"] and conflicts:
            if explicit_idem or transactional:
                raise ConfigError("Idempotence (enable.idempotence=true"
                                  + (", required by transactional.id" if transactional else "")
                                  + ") needs: " + "; ".join(conflicts))
            # Java: idempotence silently off when the user didn't ask for it explicitly.
            log.info("Idempotence disabled because %s", "; ".join(conflicts))
            v["enable.idempotence"] = False
        minimum = v["linger.ms"] + v["request.timeout.ms"]
        if v["delivery.timeout.ms"] < minimum:
            if "delivery.timeout.ms" in user:
                raise ConfigError(
                    f"'delivery.timeout.ms' ({v['delivery.timeout.ms']}) must be at least "
                    f"'linger.ms' + 'request.timeout.ms' ({minimum})")
            log.warning("delivery.timeout.ms raised to linger.ms + request.timeout.ms = %d",
                        minimum)
            v["delivery.timeout.ms"] = minimum
        if v["retry.backoff.max.ms"] < v["retry.backoff.ms"]:
            v["retry.backoff.max.ms"] = v["retry.backoff.ms"]   # as Java's ExponentialBackoff
        if v["reconnect.backoff.max.ms"] < v["reconnect.backoff.ms"]:
            v["reconnect.backoff.max.ms"] = v["reconnect.backoff.ms"]
        if v["max.request.size"] > v["buffer.memory"]:
            log.debug("max.request.size exceeds buffer.memory; records are bounded by both")

    def plugin_configs(self) -> Dict[str, Any]:
        """What a plugin's configure() gets: the settings the user gave, and client.id
        (Java passes its originals with the resolved client.id)."""
        configs = {name: self._values[name] for name in self.user_set}
        configs["client.id"] = self._values["client.id"]
        return configs

    @property
    def acks(self) -> int:
        """acks as the wire value: -1 (all), 0 or 1."""
        return -1 if self._values["acks"] == "all" else int(self._values["acks"])


def _check_bootstrap(servers: Sequence[str]) -> None:
    if not servers:
        raise ConfigError("Setting 'bootstrap.servers' must list at least one host:port")
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"Invalid entry {server!r} in 'bootstrap.servers': expected host:port")


def _unknown_message(name: str) -> str:
    if name in REMOVED:
        return f"Setting '{name}' is no longer supported: {REMOVED[name]}"
    close = difflib.get_close_matches(name, SETTINGS_BY_NAME, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"Unknown producer setting '{name}'{hint}"


def settings_table(names: Sequence[str] = ()) -> str:
    """A Markdown table of settings (name, default, meaning) for the docs."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        if names and s.name not in names:
            continue
        default = "(required)" if s.default is NO_DEFAULT else repr(s.default)
        rows.append(f"| `{s.name}` | `{default}` | {s.doc} |")
    return "\n".join(rows)


# -- the admin client's settings (Java's AdminClientConfig) ---------------------------

def _admin_default(name: str, default: Any) -> Setting:
    """A producer setting the admin client shares, with the admin client's Java default."""
    return replace(SETTINGS_BY_NAME[name], default=default)


_SHARED_WITH_ADMIN = (
    "bootstrap.servers", "client.id", "client.dns.lookup", "request.timeout.ms",
    "retry.backoff.ms", "retry.backoff.max.ms", "reconnect.backoff.ms",
    "reconnect.backoff.max.ms", "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms", "send.buffer.bytes",
    "security.protocol", "connections.max.reauth.ms",
) + tuple(s.name for s in SETTINGS if s.name.startswith(("ssl.", "sasl.")))

ADMIN_SETTINGS: Tuple[Setting, ...] = tuple(SETTINGS_BY_NAME[n] for n in _SHARED_WITH_ADMIN) + (
    _admin_default("receive.buffer.bytes", 65536),
    _admin_default("connections.max.idle.ms", 300000),
    _int("default.api.timeout.ms", 60000,
         "Upper bound of one admin call, retries included, when the call gives no timeout.",
         high=INT32_MAX),
    _int("retries", INT32_MAX, "How often a failed admin request is retried (bounded by "
         "the call's timeout).", high=INT32_MAX),
)

ADMIN_SETTINGS_BY_NAME: Dict[str, Setting] = {s.name: s for s in ADMIN_SETTINGS}


class AdminConfig(_Settings):
    """Validated, typed admin client settings (read-only mapping by dotted name), with
    Java's ``AdminClientConfig`` names and defaults. A producer-only setting is an
    error here, not silently ignored."""

    _TABLE = ADMIN_SETTINGS_BY_NAME

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        values: Dict[str, Any] = {}
        for source in (config or {}), kwargs:
            for raw_name, raw in source.items():
                name = normalize_name(str(raw_name))
                if name in values:
                    raise ConfigError(f"Setting '{name}' given twice")
                setting = ADMIN_SETTINGS_BY_NAME.get(name)
                if setting is None:
                    close = difflib.get_close_matches(name, ADMIN_SETTINGS_BY_NAME, n=1,
                                                      cutoff=0.6)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    kind = " (a producer setting)" if name in SETTINGS_BY_NAME else ""
                    raise ConfigError(f"Unknown admin client setting '{name}'{kind}{hint}")
                values[name] = setting.coerce(raw)
        self.user_set = frozenset(values)
        for setting in ADMIN_SETTINGS:
            if setting.name not in values:
                if setting.default is NO_DEFAULT:
                    raise ConfigError(f"Missing required setting '{setting.name}'")
                values[setting.name] = setting.default
        _check_bootstrap(values["bootstrap.servers"])
        if values["retry.backoff.max.ms"] < values["retry.backoff.ms"]:
            values["retry.backoff.max.ms"] = values["retry.backoff.ms"]
        if values["reconnect.backoff.max.ms"] < values["reconnect.backoff.ms"]:
            values["reconnect.backoff.max.ms"] = values["reconnect.backoff.ms"]
        self._values = values

