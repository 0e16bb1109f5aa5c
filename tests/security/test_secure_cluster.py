"""kprod over SSL, mTLS, SASL_PLAINTEXT and SASL_SSL against a real broker, read back
with confluent-kafka over PLAINTEXT; negative cases fail fast with clear errors."""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, Iterator

import pytest

from kprod._internals.connection import READY, UnsupportedSaslMechanismError
from kprod.errors import AuthenticationError, KafkaError, KafkaTimeoutError
from kprod.producer import Producer
from kprod.testing import KafkaCluster
from kprod.testing.security import (OAUTHBEARER_REAUTH_MS, SHORT_SESSION_MECHANISMS,
                                    unsecured_jwt)
from tests.connection.support import Loop, now_ms
from tests.producer.readback import read_all

pytestmark = pytest.mark.kafka

LISTENERS = ("SSL", "MTLS", "SASL_PLAINTEXT", "SASL_SSL")


@pytest.fixture(scope="module")
def secure() -> Iterator[KafkaCluster]:
    with KafkaCluster(brokers=1, listeners=LISTENERS) as cluster:
        yield cluster


def _topic(cluster: KafkaCluster, request) -> str:
    name = f"sec-{request.node.name}"[:200].replace("[", "-").replace("]", "")
    for ch in "/:":
        name = name.replace(ch, "-")
    return cluster.create_topic(name)


def _security(cluster: KafkaCluster, listener: str, mechanism: str | None = None,
              user: str = "alice", password: str | None = None) -> Dict[str, Any]:
    cfg: Dict[str, Any] = {"bootstrap.servers": cluster.bootstrap_for(listener),
                           "security.protocol": {"MTLS": "SSL"}.get(listener, listener)}
    if "SSL" in listener or listener == "MTLS":
        cfg["ssl.truststore.location"] = str(cluster.tls.ca_file)
    if listener == "MTLS":
        cfg["ssl.keystore.location"] = str(cluster.tls.client_cert_file)
    if mechanism:
        cfg["sasl.mechanism"] = mechanism
        cfg["sasl.username"] = user
        cfg["sasl.password"] = (password if password is not None
                                else cluster.sasl_users[mechanism][user])
    return cfg


def _produce_and_read_back(cluster: KafkaCluster, topic: str, cfg: Dict[str, Any],
                           n: int = 200) -> None:
    p = Producer({**cfg, "max.block.ms": 20000, "linger.ms": 5})
    try:
        futures = [p.send(topic, value=b"v%d" % i + b"x" * (i * 50), key=b"k%d" % i)
                   for i in range(n)]
        p.flush(30)
        offsets = [f.get(10).offset for f in futures]
        assert offsets == list(range(n))
    finally:
        p.close(10)
    got = read_all(cluster.bootstrap_servers, topic, n)
    assert [m.value for m in got] == [b"v%d" % i + b"x" * (i * 50) for i in range(n)]


@pytest.mark.parametrize("listener, mechanism", [
    ("SSL", None),
    ("MTLS", None),
    ("SASL_SSL", "PLAIN"),
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("SASL_SSL", "SCRAM-SHA-512"),
    ("SASL_SSL", "SCRAM-SHA-256"),
])
def test_produce_and_read_back(secure, request, listener, mechanism):
    _produce_and_read_back(secure, _topic(secure, request),
                           _security(secure, listener, mechanism))


def test_sasl_jaas_config(secure, request):
    cfg = _security(secure, "SASL_SSL")
    pw = secure.sasl_users["SCRAM-SHA-512"]["bob"]
    cfg.update({"sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="bob" password="{pw}";'})
    _produce_and_read_back(secure, _topic(secure, request), cfg, n=20)


@pytest.mark.parametrize("listener", ["SASL_SSL", "PLAINTEXT"])
def test_large_payload(secure, request, listener):
    """Requests far larger than a TLS record (16 KiB) and the socket buffer: partial
    writes with nothing else in flight (used to stall: no write interest registered)
    and multi-record TLS reads."""
    topic = _topic(secure, request)
    cfg = (_security(secure, "SASL_SSL", "PLAIN") if listener == "SASL_SSL"
           else {"bootstrap.servers": secure.bootstrap_servers})
    p = Producer({**cfg, "max.block.ms": 20000,
                  "batch.size": 1 << 20, "linger.ms": 20, "compression.type": "none"})
    try:
        values = [bytes([i % 251]) * 300_000 for i in range(12)]
        futures = [p.send(topic, value=v) for v in values]
        p.flush(30)
        assert [f.get(10).offset for f in futures] == list(range(12))
    finally:
        p.close(10)
    assert [m.value for m in read_all(secure.bootstrap_servers, topic, 12)] == values


# -- negatives at the connection level: exact error types and messages ---------------

_BASE = {"client.id": "sec-test", "request.timeout.ms": 10000,
         "socket.connection.setup.timeout.ms": 8000,
         "socket.connection.setup.timeout.max.ms": 8000, "reconnect.backoff.ms": 50,
         "reconnect.backoff.max.ms": 1000, "max.in.flight.requests.per.connection": 5,
         "send.buffer.bytes": 131072, "receive.buffer.bytes": 32768,
         "connections.max.idle.ms": 540000, "client.dns.lookup": "use_all_dns_ips"}


def _connect(cfg: Dict[str, Any], host: str | None = None) -> tuple:
    """Drive one BrokerConnection until READY or an error; return (conn, seconds)."""
    address = cfg["bootstrap.servers"].split(",")[0]
    h, _, port = address.rpartition(":")
    loop = Loop()
    from kprod._internals.connection import BrokerConnection, ConnectionSettings
    from kprod._internals.network import CLIENT_VERSIONS as SUPPORTED
    settings = ConnectionSettings({**_BASE, **{k: v for k, v in cfg.items()
                                               if k != "bootstrap.servers"}})
    conn = loop.attach(BrokerConnection(-1, host or h, int(port), settings, now_ms,
                                        SUPPORTED))
    failures = []
    conn.on_auth_failure = failures.append
    start = time.monotonic()
    conn.connect(now_ms())
    try:
        loop.run_until(lambda: conn.state == READY or conn.last_error is not None, [conn],
                       15)
    finally:
        if conn.sock is not None:
            conn.close(None)
        loop.close()
    return conn, time.monotonic() - start, failures


def test_connection_ready_with_each_mechanism(secure):
    for listener, mech in (("SASL_PLAINTEXT", "PLAIN"), ("SASL_SSL", "SCRAM-SHA-256"),
                           ("MTLS", None)):
        conn, _, failures = _connect(_security(secure, listener, mech))
        assert conn.last_error is None and not failures
        assert conn.authenticated_mechanism == mech


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_wrong_password(secure, mechanism):
    wrong = "definitely-Wrong-Pw-991"
    conn, took, failures = _connect(_security(secure, "SASL_SSL", mechanism, password=wrong))
    err = conn.last_error
    assert isinstance(err, AuthenticationError), err
    assert failures == [err]
    assert mechanism in str(err) and wrong not in str(err)
    assert took < 10


def test_unknown_user(secure):
    conn, _, _ = _connect(_security(secure, "SASL_PLAINTEXT", "SCRAM-SHA-256", user="mallory",
                                    password="whatever-Pw-123"))
    assert isinstance(conn.last_error, AuthenticationError), conn.last_error
    assert "SCRAM-SHA-256" in str(conn.last_error)
    assert "whatever-Pw-123" not in str(conn.last_error)


def test_unsupported_mechanism_lists_enabled_ones(secure):
    creds = _security(secure, "SASL_SSL")     # OAUTHBEARER is enabled on SASL_PLAINTEXT only
    creds.update({"sasl.mechanism": "OAUTHBEARER",
                  "sasl.oauthbearer.token.provider": lambda: ("x", None)})
    conn, _, _ = _connect(creds)
    err = conn.last_error
    assert isinstance(err, UnsupportedSaslMechanismError), err
    assert "OAUTHBEARER" in str(err)
    for mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        assert mech in str(err)


def test_wrong_ca(secure):
    cfg = _security(secure, "SSL")
    cfg["ssl.truststore.location"] = str(secure.tls.other_ca_file)
    conn, took, failures = _connect(cfg)
    err = conn.last_error
    assert isinstance(err, AuthenticationError) and failures == [err], err
    assert "certificate verif" in str(err) and "127.0.0.1" in str(err)
    assert took < 10


def test_hostname_mismatch(secure):
    """The broker certificate names IP 127.0.0.1 only: 'localhost' does not match."""
    cfg = _security(secure, "SSL")
    conn, _, _ = _connect(cfg, host="localhost")
    err = conn.last_error
    assert isinstance(err, AuthenticationError), err
    assert "localhost" in str(err) and "certificate" in str(err)
    # ...and with hostname verification off the same connection works.
    cfg["ssl.endpoint.identification.algorithm"] = ""
    conn, _, _ = _connect(cfg, host="localhost")
    assert conn.last_error is None


def test_mtls_listener_without_client_certificate(secure):
    conn, took, failures = _connect(_security(secure, "SSL") | {
        "bootstrap.servers": secure.bootstrap_for("MTLS")})
    err = conn.last_error
    assert isinstance(err, AuthenticationError) and failures == [err], err
    assert "certificate" in str(err)
    assert took < 10


def test_sasl_client_against_plaintext_listener(secure):
    conn, took, failures = _connect(_security(secure, "SASL_PLAINTEXT", "PLAIN") | {
        "bootstrap.servers": secure.bootstrap_servers})
    err = conn.last_error
    assert isinstance(err, AuthenticationError) and "SASL listener" in str(err), err
    assert took < 10


def test_plaintext_client_against_tls_listener(secure):
    cfg = {"bootstrap.servers": secure.bootstrap_for("SSL"), "security.protocol": "PLAINTEXT"}
    conn, took, _ = _connect(cfg)
    err = conn.last_error
    assert err is not None and took < 10
    assert "TLS" in str(err) or "SSL" in str(err), err


def test_tls_client_against_plaintext_listener(secure):
    cfg = {"bootstrap.servers": secure.bootstrap_servers, "security.protocol": "SSL",
           "ssl.truststore.location": str(secure.tls.ca_file)}
    conn, took, _ = _connect(cfg)
    assert conn.last_error is not None and took < 10
    assert "TLS" in str(conn.last_error)


# -- negatives through the Producer: bounded, clear, no secrets anywhere ---------------

def test_producer_wrong_password_fails_bounded_and_never_leaks(secure, request, caplog):
    topic = _topic(secure, request)
    secrets = ["Wrong-Secret-Pw-4711", secure.sasl_users["SCRAM-SHA-256"]["alice"],
               secure.sasl_users["PLAIN"]["alice"]]
    caplog.set_level(logging.DEBUG, logger="kprod")
    texts = []
    for cfg in (_security(secure, "SASL_SSL", "SCRAM-SHA-256", password=secrets[0]),
                _security(secure, "SASL_PLAINTEXT", "PLAIN", password=secrets[0])):
        start = time.monotonic()
        p = Producer({**cfg, "max.block.ms": 4000, "delivery.timeout.ms": 6000,
                      "request.timeout.ms": 3000, "linger.ms": 0})
        texts += [repr(p.config), str(p.metrics())]
        try:
            with pytest.raises(KafkaError) as info:
                p.send(topic, b"x").get(10)
            texts.append(str(info.value))
            assert isinstance(info.value, (AuthenticationError, KafkaTimeoutError))
            assert time.monotonic() - start < 9
        finally:
            p.close(5)
    logged = [r.getMessage() for r in caplog.records]
    assert any("authentication" in m.lower() and "failed" in m for m in logged), logged
    # Good credentials too: a successful producer logs nothing secret either.
    ok = Producer({**_security(secure, "SASL_PLAINTEXT", "SCRAM-SHA-256"),
                   "max.block.ms": 20000})
    ok.send(topic, b"y").get(20)
    texts += [repr(ok.config), str(ok.metrics())]
    ok.close(5)
    haystack = "\n".join(texts + [r.getMessage() for r in caplog.records]
                         + [str(r.args) for r in caplog.records] + [caplog.text])
    for secret in secrets:
        assert secret not in haystack


# -- OAUTHBEARER (KIP-255) and session expiry (KIP-368) --------------------------------

@pytest.mark.parametrize("mechanism", SHORT_SESSION_MECHANISMS)
def test_sessions_are_reauthenticated_in_place(secure, request, mechanism):
    """The broker limits these sessions to OAUTHBEARER_REAUTH_MS. kprod stops taking
    new requests on a session near expiry, lets the in-flight ones finish and runs
    SASL again on the same connection (KIP-368): a continuous pipelined stream over
    2.5 session lifetimes loses nothing, reorders nothing and opens no new connection."""
    topic = _topic(secure, request)
    tokens = []

    def provider():
        tokens.append(1)
        return unsecured_jwt("alice")

    cfg = {"bootstrap.servers": secure.bootstrap_for("SASL_PLAINTEXT"),
           "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism}
    if mechanism == "OAUTHBEARER":
        cfg["sasl.oauthbearer.token.provider"] = provider
    else:
        cfg = _security(secure, "SASL_PLAINTEXT", mechanism)
    p = Producer({**cfg, "max.block.ms": 20000, "linger.ms": 2})
    futures = [p.send(topic, b"r0")]
    try:
        futures[0].get(15)             # the leader's connection is up before we count
        created = p.metrics()["connection-creation-total"]
        deadline = time.monotonic() + OAUTHBEARER_REAUTH_MS / 1000.0 * 2.5
        while time.monotonic() < deadline:
            futures += [p.send(topic, b"r%d" % i) for i in range(len(futures),
                                                                len(futures) + 20)]
            time.sleep(0.01)
        p.flush(30)
        assert [f.get(10).offset for f in futures] == list(range(len(futures)))
        m = p.metrics()
        conns = [c for c in p._sender.network.connections.values() if c.node_id >= 0]
        assert conns and conns[0].authenticated_mechanism == mechanism
        assert m["successful-reauthentication-total"] >= 2, m
        assert m["failed-reauthentication-total"] == 0
        assert m["connection-creation-total"] == created, m   # no reconnect
        assert m["record-error-total"] == 0
        if mechanism == "OAUTHBEARER":   # a fresh token for every session
            assert len(tokens) >= 2 + m["successful-reauthentication-total"]
    finally:
        p.close(10)
    got = read_all(secure.bootstrap_servers, topic, len(futures))
    assert [m.value for m in got] == [b"r%d" % i for i in range(len(futures))]


def test_failed_reauthentication_is_an_auth_error(secure, request):
    """The token provider breaks after the first sessions: the re-authentication
    fails with AuthenticationError, counted, and later sends fail with it, no hang."""
    topic = _topic(secure, request)
    calls = []

    def provider():
        calls.append(1)
        if len(calls) > 2:       # bootstrap + leader connection, then broken
            raise RuntimeError("token service down")
        return unsecured_jwt("alice")

    p = Producer({"bootstrap.servers": secure.bootstrap_for("SASL_PLAINTEXT"),
                  "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
                  "sasl.oauthbearer.token.provider": provider, "max.block.ms": 5000})
    try:
        p.send(topic, b"before").get(15)
        deadline = time.monotonic() + OAUTHBEARER_REAUTH_MS / 1000.0 * 2
        while p.metrics()["failed-reauthentication-total"] == 0:
            assert time.monotonic() < deadline, p.metrics()
            time.sleep(0.1)
        with pytest.raises(KafkaError) as info:
            p.send(topic, b"after").get(15)
        assert isinstance(info.value, AuthenticationError), info.value
        assert "token provider" in str(info.value)
    finally:
        p.close(5)


def test_session_without_expiry_is_not_reauthenticated(secure, request):
    """SASL_SSL sessions have no lifetime: nothing to renew."""
    topic = _topic(secure, request)
    p = Producer({**_security(secure, "SASL_SSL", "SCRAM-SHA-512"), "max.block.ms": 20000})
    try:
        p.send(topic, b"x").get(15)
        conns = [c for c in p._sender.network.connections.values() if c.node_id >= 0]
        assert conns and conns[0].session_expiry_ms == 0
        assert p.metrics()["successful-authentication-total"] >= 1
        assert p.metrics()["successful-reauthentication-total"] == 0
    finally:
        p.close(10)


def test_oauthbearer_token_provider_failure_is_an_auth_error(secure):
    def provider():
        raise RuntimeError("vault unreachable, secret=Tok-Secret-77")

    conn, took, failures = _connect({
        "bootstrap.servers": secure.bootstrap_for("SASL_PLAINTEXT"),
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.token.provider": provider})
    assert isinstance(conn.last_error, AuthenticationError)
    assert "token provider" in str(conn.last_error)
    assert "Tok-Secret-77" not in str(conn.last_error)


def test_oauthbearer_invalid_token_rejected(secure):
    conn, took, failures = _connect({
        "bootstrap.servers": secure.bootstrap_for("SASL_PLAINTEXT"),
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.token.provider": lambda: ("not-a-jwt", None)})
    assert isinstance(conn.last_error, AuthenticationError), conn.last_error
    assert "OAUTHBEARER" in str(conn.last_error) and took < 10


# -- other ways to give the client certificate --------------------------------------------

def test_mtls_with_ssl_context_pem_text_and_encrypted_key(secure, tmp_path):
    import ssl

    from cryptography.hazmat.primitives import serialization

    tls = secure.tls
    base = {"bootstrap.servers": secure.bootstrap_for("MTLS"), "security.protocol": "SSL"}
    ctx = ssl.create_default_context(cafile=str(tls.ca_file))
    ctx.load_cert_chain(str(tls.client_cert_file))
    key_pem = tls.client_key_file.read_text()
    chain_pem = tls.client_cert_file.read_text().split("-----BEGIN PRIVATE KEY-----")[0]
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    encrypted = key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"Key-Pw-5150"))
    enc_file = tmp_path / "client-enc.pem"
    enc_file.write_bytes(chain_pem.encode() + encrypted)
    variants = [
        {"ssl.context": ctx},
        {"ssl.truststore.certificates": tls.ca_file.read_text(),
         "ssl.keystore.certificate.chain": chain_pem, "ssl.keystore.key": key_pem},
        {"ssl.truststore.location": str(tls.ca_file), "ssl.keystore.location": str(enc_file),
         "ssl.key.password": "Key-Pw-5150"},
    ]
    for extra in variants:
        conn, _, _ = _connect({**base, **extra})
        assert conn.last_error is None, (extra.keys(), conn.last_error)
    # A wrong key password is a ConfigError at construction, without the password.
    from kprod.errors import ConfigError
    with pytest.raises(ConfigError) as info:
        Producer({**base, "ssl.truststore.location": str(tls.ca_file),
                  "ssl.keystore.location": str(enc_file), "ssl.key.password": "Nope-Pw-1"})
    assert "Nope-Pw-1" not in str(info.value) and "Key-Pw-5150" not in str(info.value)


def test_wrong_password_fails_send_promptly_then_recovers_nothing_silently(secure, request):
    """The Sender wires BrokerConnection.on_auth_failure: send() fails with the
    AuthenticationError at once instead of after max.block.ms."""
    topic = _topic(secure, request)
    p = Producer({**_security(secure, "SASL_SSL", "SCRAM-SHA-512", password="Bad-Pw-31337"),
                  "max.block.ms": 30000})
    try:
        start = time.monotonic()
        with pytest.raises(AuthenticationError) as info:
            p.send(topic, b"x")
        assert time.monotonic() - start < 5
        assert "SCRAM-SHA-512" in str(info.value) and "Bad-Pw-31337" not in str(info.value)
    finally:
        p.close(5)


def test_admin_client_over_sasl_ssl(secure, request):
    """kprod.admin uses the producer's security settings: create a topic, produce over
    SASL_SSL, count it with ListOffsets; a wrong password is an AuthenticationError."""
    from kprod.admin import AdminClient

    cfg = _security(secure, "SASL_SSL", "SCRAM-SHA-512")
    name = f"sec-admin-{request.node.name}"[:200]
    with AdminClient(cfg) as admin:
        admin.create_topic(name, 2, 1)
        assert [p.leader for p in admin.describe_topics(name)[name].partitions] == [1, 1]
        with Producer({**cfg, "max.block.ms": 20000}) as producer:
            for i in range(50):
                producer.send(name, b"v%d" % i, partition=i % 2)
            producer.flush(30)
        assert sum(o.offset for o in admin.list_offsets(name).values()) == 50
    assert len(read_all(secure.bootstrap_servers, name, 50)) == 50
    with AdminClient({**cfg, "sasl.password": "wrong"}) as admin:
        with pytest.raises(AuthenticationError):
            admin.list_topics(timeout=30)
