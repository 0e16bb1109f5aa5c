"""The connection-related producer settings, read once per producer, and the counters
every connection of one producer shares."""
from __future__ import annotations

import socket
import ssl
from typing import Callable, Dict, Iterable, List, Optional

from kprod._internals import sasl as _sasl
from kprod._internals import tls as _tls
from kprod.errors import ConfigError


class ConnectionStats:
    """Counters shared by every connection of one producer (Java's selector metrics:
    connection-creation-total, successful-reauthentication-total, ...). Written by
    the I/O thread only; plain ints, read by ``Producer.metrics()``."""

    def __init__(self) -> None:
        self.creations = 0
        self.closes = 0
        self.authentications = 0
        self.failed_authentications = 0
        self.reauthentications = 0
        self.failed_reauthentications = 0
        self.reauth_latency_sum_ms = 0.0
        self.reauth_latency_max_ms = 0.0
        self.on_creation: Optional[Callable[[], None]] = None   # the windowed rate's

    def snapshot(self) -> Dict[str, float]:
        n = self.reauthentications
        return {
            "connection-creation-total": self.creations,
            "connection-close-total": self.closes,
            "successful-authentication-total": self.authentications,
            "failed-authentication-total": self.failed_authentications,
            "successful-reauthentication-total": n,
            "failed-reauthentication-total": self.failed_reauthentications,
            "reauthentication-latency-avg": self.reauth_latency_sum_ms / n if n else 0.0,
            "reauthentication-latency-max": self.reauth_latency_max_ms,
        }


class ConnectionSettings:
    """The connection-related producer settings, read once."""

    def __init__(self, config) -> None:
        self.client_id: str = config["client.id"]
        self.request_timeout_ms: int = config["request.timeout.ms"]
        self.setup_timeout_ms: int = config["socket.connection.setup.timeout.ms"]
        self.setup_timeout_max_ms: int = config["socket.connection.setup.timeout.max.ms"]
        self.reconnect_backoff_ms: int = config["reconnect.backoff.ms"]
        self.reconnect_backoff_max_ms: int = config["reconnect.backoff.max.ms"]
        self.max_in_flight: int = config["max.in.flight.requests.per.connection"]
        self.send_buffer_bytes: int = config["send.buffer.bytes"]
        self.receive_buffer_bytes: int = config["receive.buffer.bytes"]
        self.max_idle_ms: int = config["connections.max.idle.ms"]
        self.use_all_dns_ips: bool = config["client.dns.lookup"] == "use_all_dns_ips"
        self.security_protocol: str = _get(config, "security.protocol", "PLAINTEXT")
        get = lambda name, default=None: _get(config, name, default)   # noqa: E731
        self.ssl_context: Optional[ssl.SSLContext] = None
        self.check_hostname = False
        if self.security_protocol in ("SSL", "SASL_SSL"):
            self.ssl_context = _tls.build_context(get)
            self.check_hostname = self.ssl_context.check_hostname
        self.sasl: Optional[_sasl.Credentials] = None
        if self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
            self.sasl = _sasl.credentials_from(get)
        elif self.security_protocol not in ("PLAINTEXT", "SSL"):
            raise ConfigError(f"Unknown security.protocol {self.security_protocol!r}")
        self.max_reauth_ms: int = get("connections.max.reauth.ms", 0) or 0
        # metadata.recovery.strategy (KIP-899) and its trigger (KIP-1102), for the
        # network client.
        self.rebootstrap: bool = get("metadata.recovery.strategy", "rebootstrap") == "rebootstrap"
        self.rebootstrap_trigger_ms: int = get("metadata.recovery.rebootstrap.trigger.ms",
                                               300000)
        self.stats = ConnectionStats()


def canonical_bootstrap(servers: Iterable[str]) -> List[str]:
    """client.dns.lookup=resolve_canonical_bootstrap_servers_only (Java
    ClientUtils.parseAndValidateAddresses): each bootstrap host becomes the canonical
    names of all its addresses (reverse lookup, as Kerberos and TLS hostname checks
    want); a host that does not resolve stays as given, so its connection reports the
    DNS failure."""
    expanded: List[str] = []
    for server in servers:
        host, _, port = server.rpartition(":")
        host = host.strip("[]")
        try:
            infos = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            infos = []
        names = []
        for info in infos:
            address = str(info[4][0])      # a str for AF_INET/AF_INET6 (typeshed: str | int)
            try:
                name = socket.gethostbyaddr(address)[0]
            except (socket.herror, socket.gaierror, OSError):
                name = address          # Java's getCanonicalHostName: the address itself
            if name not in names:
                names.append(name)
        for name in names or [host]:
            entry = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
            if entry not in expanded:
                expanded.append(entry)
    return expanded


def _get(config, name: str, default):
    try:
        value = config[name]
    except KeyError:
        return default
    return default if value is None else value
