"""Test certificates and users for :class:`KafkaCluster` security listeners.

Certificates are made at test time with the ``cryptography`` package (a ``test``
extra) into the cluster's work dir: a CA, a broker certificate for
``IP:127.0.0.1`` only (so connecting as ``localhost`` is a hostname mismatch), a
client certificate signed by the same CA (for ``MTLS``), and an unrelated CA
(for "wrong CA" tests). The broker gets a PKCS#12 keystore and a PEM truststore.
"""
from __future__ import annotations

import datetime
import ipaddress
import pathlib
from dataclasses import dataclass, field
from typing import Dict, Tuple

# Listener name -> (security protocol, client certificate required)
LISTENERS = {
    "SSL": ("SSL", False),
    "MTLS": ("SSL", True),
    "SASL_PLAINTEXT": ("SASL_PLAINTEXT", False),
    "SASL_SSL": ("SASL_SSL", False),
}
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# SASL_PLAINTEXT also enables OAUTHBEARER with Kafka's default *unsecured* validator
# (accepts unsigned JWTs, see unsecured_jwt()). There, OAUTHBEARER and SCRAM-SHA-512
# sessions last at most OAUTHBEARER_REAUTH_MS (connections.max.reauth.ms, KIP-368), so
# tests see clients re-authenticate. SASL_SSL enables neither of these, for
# "unsupported mechanism" tests and sessions without expiry.
OAUTHBEARER_LISTENER = "SASL_PLAINTEXT"
OAUTHBEARER_REAUTH_MS = 4000
SHORT_SESSION_MECHANISMS = ("OAUTHBEARER", "SCRAM-SHA-512")
STORE_PASSWORD = "changeit"   # broker keystore only (test material)

# mechanism -> {user: password}; SCRAM users go in at storage format time.
DEFAULT_USERS: Dict[str, Dict[str, str]] = {
    "PLAIN": {"admin": "admin-secret-P1", "alice": "alice-secret-P2"},
    "SCRAM-SHA-256": {"alice": "alice-scram256-S3", "bob": "bob-scram256-S4"},
    "SCRAM-SHA-512": {"alice": "alice-scram512-S5", "bob": "bob-scram512-S6"},
}


@dataclass
class TlsFiles:
    dir: pathlib.Path
    ca_file: pathlib.Path            # PEM CA that signed the broker and client certs
    other_ca_file: pathlib.Path      # PEM CA that signed nothing here
    client_cert_file: pathlib.Path   # PEM: client certificate + its unencrypted key
    client_key_file: pathlib.Path    # PEM: the key alone
    broker_keystore: pathlib.Path    # PKCS#12, password STORE_PASSWORD
    cert_hosts: tuple = ("127.0.0.1",)
    extra: dict = field(default_factory=dict)


def generate_tls(directory: pathlib.Path) -> TlsFiles:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import pkcs12
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:  # pragma: no cover
        raise RuntimeError("KafkaCluster security listeners need the 'cryptography' "
                           "package (pip install kprod[test])") from exc
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def make_ca(cn: str):
        k = key()
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(k.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()),
                               critical=False)
                .sign(k, hashes.SHA256()))
        return k, cert

    def leaf(cn: str, ca_key, ca_cert, san, usage):
        k = key()
        builder = (x509.CertificateBuilder().subject_name(name(cn))
                   .issuer_name(ca_cert.subject).public_key(k.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.KeyUsage(True, False, True, False, False, False, False,
                                                False, False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       ca_key.public_key()), critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return k, builder.sign(ca_key, hashes.SHA256())

    pem = serialization.Encoding.PEM
    ca_key, ca_cert = make_ca("kprod test CA")
    _, other_ca = make_ca("kprod unrelated CA")
    # Broker cert: IP:127.0.0.1 only; CN is not a host name either.
    b_key, b_cert = leaf("kprod-test-broker", ca_key, ca_cert,
                         [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
                         ExtendedKeyUsageOID.SERVER_AUTH)
    c_key, c_cert = leaf("kprod-test-client", ca_key, ca_cert, None,
                         ExtendedKeyUsageOID.CLIENT_AUTH)

    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    other = directory / "other-ca.pem"
    other.write_bytes(other_ca.public_bytes(pem))
    key_bytes = c_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    client_key = directory / "client.key.pem"
    client_key.write_bytes(key_bytes)
    client_file = directory / "client.pem"
    client_file.write_bytes(c_cert.public_bytes(pem) + key_bytes)
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(50000)
                  .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                  .hmac_hash(hashes.SHA1()).build(STORE_PASSWORD.encode()))
    keystore = directory / "broker.p12"
    keystore.write_bytes(pkcs12.serialize_key_and_certificates(
        b"broker", b_key, b_cert, [ca_cert], encryption))
    for path in (client_key, client_file, keystore):
        path.chmod(0o600)
    return TlsFiles(directory, ca_file, other, client_file, client_key, keystore)


def listener_properties(names, ports: Dict[str, int], tls: TlsFiles | None,
                        users: Dict[str, Dict[str, str]]) -> Dict[str, str]:
    """server.properties entries for the extra listeners of one node."""
    props: Dict[str, str] = {}
    for listener in names:
        protocol, client_auth = LISTENERS[listener]
        prefix = f"listener.name.{listener.lower()}."
        if protocol in ("SSL", "SASL_SSL"):
            if tls is None:
                raise ValueError(f"listener {listener} needs the TLS files (tls=)")
            props.update({
                prefix + "ssl.keystore.type": "PKCS12",
                prefix + "ssl.keystore.location": str(tls.broker_keystore),
                prefix + "ssl.keystore.password": STORE_PASSWORD,
                prefix + "ssl.key.password": STORE_PASSWORD,
                prefix + "ssl.truststore.type": "PEM",
                prefix + "ssl.truststore.location": str(tls.ca_file),
                prefix + "ssl.client.auth": "required" if client_auth else "none",
                prefix + "ssl.endpoint.identification.algorithm": "",
            })
        if protocol.startswith("SASL"):
            mechanisms: Tuple[str, ...] = SASL_MECHANISMS
            if listener == OAUTHBEARER_LISTENER:
                mechanisms += ("OAUTHBEARER",)
                props[prefix + "oauthbearer.sasl.jaas.config"] = (
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                    'required unsecuredLoginStringClaim_sub="admin";')
                for mech in SHORT_SESSION_MECHANISMS:
                    props[prefix + f"{mech.lower()}.connections.max.reauth.ms"] = \
                        str(OAUTHBEARER_REAUTH_MS)
            props[prefix + "sasl.enabled.mechanisms"] = ",".join(mechanisms)
            plain_users = " ".join(f'user_{u}="{p}"' for u, p in users["PLAIN"].items())
            admin = next(iter(users["PLAIN"].items()))
            props[prefix + "plain.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{admin[0]}" password="{admin[1]}" {plain_users};')
            for mech in ("scram-sha-256", "scram-sha-512"):
                props[prefix + f"{mech}.sasl.jaas.config"] = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;")
    return props


def scram_format_args(users: Dict[str, Dict[str, str]]) -> list:
    args = []
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        for user, password in users.get(mech, {}).items():
            if "," in password or '"' in password:
                raise ValueError("SCRAM test passwords must not contain ',' or '\"'")
            args += ["--add-scram", f'{mech}=[name="{user}",password="{password}"]']
    return args


def unsecured_jwt(subject: str = "alice", lifetime_s: float = 3600.0) -> tuple:
    """(token, expiry epoch seconds): an unsigned JWT the test broker's default
    OAUTHBEARER validator accepts. Suitable as a ``sasl.oauthbearer.token.provider``
    result."""
    import base64
    import json
    import time

    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = time.time()
    token = b64({"alg": "none"}) + "." + b64({"sub": subject, "iat": int(now),
                                              "exp": int(now + lifetime_s)}) + "."
    return token, now + lifetime_s
