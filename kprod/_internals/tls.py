"""Building the client ``ssl.SSLContext`` from the producer's ``ssl.*`` settings.

PEM only (Python's ``ssl`` cannot read JKS/PKCS12): ``ssl.truststore.location`` is a
PEM CA bundle, ``ssl.keystore.location`` a PEM file with the client certificate
chain and its private key (``ssl.key.password`` decrypts an encrypted key).
``ssl.context`` (a ready ``ssl.SSLContext``) overrides all of them. Hostname
verification follows ``ssl.endpoint.identification.algorithm`` (``https``, the
default, verifies; empty disables it, the certificate chain is still verified).
TLS 1.2 is the minimum. Passwords never appear in error messages.
"""
from __future__ import annotations

import os
import ssl
import tempfile
from typing import Any, Callable, Optional

from kprod.errors import ConfigError

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def build_context(get: Callable[[str, Any], Any]) -> ssl.SSLContext:
    """``get(name, default)`` reads a setting. Raises ConfigError on unusable settings."""
    given = get("ssl.context", None)
    if given is not None:
        if not isinstance(given, ssl.SSLContext):
            raise ConfigError("Setting 'ssl.context' must be an ssl.SSLContext, got "
                              f"{type(given).__name__}")
        return given
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    enabled = [p for p in (get("ssl.enabled.protocols", None) or ("TLSv1.2", "TLSv1.3"))]
    unknown = [p for p in enabled if p not in _VERSIONS]
    if unknown:
        raise ConfigError(f"Setting 'ssl.enabled.protocols': unsupported {unknown} "
                          "(kprod allows TLSv1.2 and TLSv1.3 only)")
    if not enabled:
        raise ConfigError("Setting 'ssl.enabled.protocols' is empty")
    # ssl.protocol is the version family of Java's SSLContext: "TLSv1.2" caps the
    # session at TLS 1.2, "TLSv1.3" and "TLS" allow what ssl.enabled.protocols allows.
    protocol = (get("ssl.protocol", "TLSv1.3") or "").strip()
    if protocol not in ("TLSv1.3", "TLSv1.2", "TLS"):
        raise ConfigError(f"Setting 'ssl.protocol': unsupported {protocol!r} (kprod allows "
                          "TLSv1.3, TLSv1.2 or TLS)")
    highest = max(_VERSIONS[p] for p in enabled)
    if protocol == "TLSv1.2":
        highest = min(highest, ssl.TLSVersion.TLSv1_2)
    lowest = min(_VERSIONS[p] for p in enabled)
    if lowest > highest:
        raise ConfigError(f"Settings 'ssl.protocol' ({protocol}) and 'ssl.enabled.protocols' "
                          f"({', '.join(enabled)}) leave no TLS version to use")
    ctx.minimum_version = lowest
    ctx.maximum_version = highest
    algorithm = (get("ssl.endpoint.identification.algorithm", "https") or "").strip().lower()
    if algorithm not in ("", "https"):
        raise ConfigError("Setting 'ssl.endpoint.identification.algorithm' must be 'https' "
                          f"or empty, got {algorithm!r}")
    ctx.check_hostname = algorithm == "https"
    ctx.verify_mode = ssl.CERT_REQUIRED

    cafile = get("ssl.truststore.location", None)
    cadata = get("ssl.truststore.certificates", None)
    if cafile or cadata:
        if cafile:
            _check_file("ssl.truststore.location", cafile)
        try:
            ctx.load_verify_locations(cafile=cafile or None, cadata=cadata or None)
        except (ssl.SSLError, ValueError) as exc:
            source = (f"ssl.truststore.location {cafile!r}" if cafile
                      else "ssl.truststore.certificates")
            raise ConfigError(f"Could not load trusted CAs from {source}: {_reason(exc)} "
                              "(PEM expected)") from None
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)

    keystore = get("ssl.keystore.location", None)
    chain_pem = get("ssl.keystore.certificate.chain", None)
    key_pem = get("ssl.keystore.key", None)
    key_password = get("ssl.key.password", None)
    if keystore:
        _check_file("ssl.keystore.location", keystore)
        _load_chain(ctx, keystore, None, key_password, f"ssl.keystore.location {keystore!r}")
    elif chain_pem or key_pem:
        if not (chain_pem and key_pem):
            raise ConfigError("Settings 'ssl.keystore.certificate.chain' and 'ssl.keystore.key'"
                              " must be given together")
        # load_cert_chain() reads files only: a private temp file, removed at once.
        fd, path = tempfile.mkstemp(prefix="kprod-key-", suffix=".pem")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(chain_pem.strip() + "\n" + key_pem.strip() + "\n")
            _load_chain(ctx, path, None, key_password, "ssl.keystore.certificate.chain/key")
        finally:
            os.unlink(path)
    ciphers = get("ssl.cipher.suites", None)
    if ciphers:
        try:
            ctx.set_ciphers(":".join(ciphers))
        except ssl.SSLError:
            raise ConfigError(f"Setting 'ssl.cipher.suites': no usable cipher in "
                              f"{list(ciphers)}") from None
    return ctx


def _load_chain(ctx: ssl.SSLContext, certfile: str, keyfile: Optional[str],
                password: Optional[str], what: str) -> None:
    try:
        ctx.load_cert_chain(certfile, keyfile, password=password or None)
    except (ssl.SSLError, ValueError, TypeError) as exc:
        hint = " (wrong or missing ssl.key.password?)" if password or "PEM" in str(exc) or \
            "password" in str(exc).lower() else ""
        raise ConfigError(f"Could not load the client certificate/key from {what}: "
                          f"{_reason(exc)}{hint}") from None


def _check_file(setting: str, path: str) -> None:
    if not os.path.isfile(path):
        raise ConfigError(f"Setting '{setting}': file {path!r} does not exist")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or str(exc) or type(exc).__name__


def describe_handshake_error(exc: BaseException) -> str:
    """A short reason for a failed TLS handshake (certificate problems spelled out)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message or _reason(exc)}"
    reason = _reason(exc)
    if reason in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE",
                  "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_CERTIFICATE_UNKNOWN"):
        return f"the broker rejected the client certificate ({reason})"
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
        return (f"{reason}: the broker did not answer with TLS (is this a "
                "PLAINTEXT/SASL_PLAINTEXT listener?)")
    return reason


def is_auth_failure(exc: BaseException) -> bool:
    """Handshake errors that retrying cannot fix (certificates, protocol versions)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    return isinstance(exc, ssl.SSLError) and not isinstance(
        exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError))
