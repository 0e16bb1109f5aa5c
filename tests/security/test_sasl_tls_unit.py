"""SASL mechanisms and TLS context building without a broker."""
from __future__ import annotations

import ssl

import pytest

from kprod._internals import sasl
from kprod._internals.connection import ConnectionSettings
from kprod._internals.tls import build_context
from kprod.errors import AuthenticationError, ConfigError
from kprod.producer import Producer


def test_scram_sha256_rfc7677_vector():
    m = sasl.Scram(sasl.Credentials("SCRAM-SHA-256", "user", "pencil"),
                   nonce="rOprNGfwEbeRWgbNEkqO")
    assert m.initial() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = m.step(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                   b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    assert final == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert m.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") is None


def _scram_after_first():
    m = sasl.Scram(sasl.Credentials("SCRAM-SHA-256", "user", "pencil"),
                   nonce="rOprNGfwEbeRWgbNEkqO")
    m.initial()
    m.step(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
           b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    return m


def test_scram_rejects_bad_server_signature_and_nonce_and_low_iterations():
    with pytest.raises(AuthenticationError, match="server signature"):
        _scram_after_first().step(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    m = sasl.Scram(sasl.Credentials("SCRAM-SHA-512", "u", "p"), nonce="abc")
    m.initial()
    with pytest.raises(AuthenticationError, match="nonce"):
        m.step(b"r=xyzdef,s=AAAA,i=4096")
    m = sasl.Scram(sasl.Credentials("SCRAM-SHA-512", "u", "p"), nonce="abc")
    m.initial()
    with pytest.raises(AuthenticationError, match="iterations"):
        m.step(b"r=abcdef,s=AAAA,i=1")


def test_scram_escapes_user_name():
    m = sasl.Scram(sasl.Credentials("SCRAM-SHA-256", "a=b,c", "p"), nonce="n")
    assert m.initial() == b"n,,n=a=3Db=2Cc,r=n"


def test_plain_message():
    assert sasl.Plain(sasl.Credentials("PLAIN", "u", "p")).initial() == b"\0u\0p"


def test_jaas_parsing_and_module_check():
    get = {"sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config":
           'org.apache.kafka.common.security.scram.ScramLoginModule required '
           'username="alice" password="s3cr=t";'}.get
    creds = sasl.credentials_from(lambda k, d=None: get(k, d))
    assert (creds.username, creds.password) == ("alice", "s3cr=t")
    assert "s3cr=t" not in repr(creds)
    bad = {"sasl.mechanism": "PLAIN", "sasl.jaas.config":
           'org.apache.kafka.common.security.scram.ScramLoginModule required '
           'username="alice" password="hunter2";'}.get
    with pytest.raises(ConfigError) as info:
        sasl.credentials_from(lambda k, d=None: bad(k, d))
    assert "hunter2" not in str(info.value)


def test_oauthbearer_message():
    creds = sasl.Credentials("OAUTHBEARER", None, None, lambda: ("tok", None))
    m = sasl.OAuthBearer(creds)
    assert m.initial() == b"n,,\x01auth=Bearer tok\x01\x01"
    assert m.step(b'{"status":"invalid_token"}') == b"\x01"


@pytest.mark.parametrize("settings, match", [
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}, "GSSAPI"),
    ({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}, "user name"),
    ({"security.protocol": "SSL", "ssl.truststore.location": "/nonexistent/ca.pem"},
     "does not exist"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"}, "token.provider"),
    ({"security.protocol": "SSL", "ssl.context": "nope"}, "SSLContext"),
])
def test_producer_rejects_unusable_security_settings(settings, match):
    with pytest.raises(ConfigError, match=match):
        Producer({"bootstrap.servers": "127.0.0.1:1", **settings})


def test_tls_context_defaults():
    ctx = build_context(lambda k, d=None: d)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    ctx = build_context(lambda k, d=None: "" if k == "ssl.endpoint.identification.algorithm"
                        else d)
    assert not ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED


def test_connection_settings_accept_plain_dicts():
    s = ConnectionSettings({
        "client.id": "x", "request.timeout.ms": 1, "socket.connection.setup.timeout.ms": 1,
        "socket.connection.setup.timeout.max.ms": 1, "reconnect.backoff.ms": 1,
        "reconnect.backoff.max.ms": 1, "max.in.flight.requests.per.connection": 1,
        "send.buffer.bytes": -1, "receive.buffer.bytes": -1, "connections.max.idle.ms": 1,
        "client.dns.lookup": "use_all_dns_ips", "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "pw-XYZ"})
    assert s.sasl.username == "u" and "pw-XYZ" not in repr(vars(s))


def test_silent_peer_times_out_in_tls_handshake():
    """A peer that accepts TCP but never answers the ClientHello: bounded by the setup
    timeout, and the error says where it stalled."""
    import socket
    import threading
    import time

    from kprod.errors import KafkaTimeoutError
    from tests.connection.support import Loop, new_connection, now_ms

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    loop = Loop()
    try:
        conn = new_connection(loop, "127.0.0.1", server.getsockname()[1],
                              socket_connection_setup_timeout_ms=400,
                              socket_connection_setup_timeout_max_ms=400,
                              security_protocol="SSL")
        start = time.monotonic()
        conn.connect(now_ms())
        loop.run_until(lambda: conn.last_error is not None, [conn], 5)
        assert isinstance(conn.last_error, KafkaTimeoutError)
        assert "TLS handshake" in str(conn.last_error)
        assert time.monotonic() - start < 3
    finally:
        loop.close()
        server.close()
        for s, _ in accepted:
            s.close()


def test_ssl_protocol_caps_the_tls_version():
    def settings(protocol, enabled=None):
        values = {"ssl.protocol": protocol, "ssl.enabled.protocols": enabled}
        return lambda k, d=None: values.get(k) if values.get(k) is not None else d

    assert build_context(settings("TLSv1.3")).maximum_version == ssl.TLSVersion.TLSv1_3
    assert build_context(settings("TLS")).maximum_version == ssl.TLSVersion.TLSv1_3
    assert build_context(settings("TLSv1.2")).maximum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(ConfigError, match="ssl.protocol.*TLSv1.1"):
        build_context(settings("TLSv1.1"))
    with pytest.raises(ConfigError, match="leave no TLS version"):
        build_context(settings("TLSv1.2", ("TLSv1.3",)))


def test_sasl_without_a_mechanism_refuses_javas_gssapi_default():
    with pytest.raises(ConfigError, match="GSSAPI"):
        Producer({"bootstrap.servers": "127.0.0.1:1", "security.protocol": "SASL_PLAINTEXT",
                  "sasl.username": "u", "sasl.password": "p"})
