"""SASL mechanisms (client side) for the SaslHandshake/SaslAuthenticate exchange (KIP-152).

PLAIN (RFC 4616), SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802 / RFC 7677, with the
nonce and server-signature checks) and OAUTHBEARER (RFC 7628, KIP-255, with a
user token provider). A mechanism is a small state machine:
``initial()`` gives the first client message, ``step(server_bytes)`` the next
one (or None when the exchange is complete). Credentials live in a
:class:`Credentials` object whose repr hides the password.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
import unicodedata
from typing import Any, Callable, Dict, Optional, Tuple

from kprod.errors import AuthenticationError, ConfigError

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_SCRAM_HASH = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
_SCRAM_MIN_ITERATIONS = 4096      # as Kafka's ScramMechanism.minIterations
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


class Credentials:
    __slots__ = ("mechanism", "username", "_password", "token_provider")

    def __init__(self, mechanism: str, username: Optional[str], password: Optional[str],
                 token_provider: Optional[Callable[[], Any]] = None) -> None:
        self.mechanism = mechanism
        self.username = username
        self._password = password
        self.token_provider = token_provider

    @property
    def password(self) -> Optional[str]:
        return self._password

    def __repr__(self) -> str:
        return f"Credentials(mechanism={self.mechanism!r}, username={self.username!r}, " \
               "password=<hidden>)"


def parse_jaas(text: str, mechanism: str) -> Tuple[Optional[str], Optional[str]]:
    """(username, password) from a PLAIN/SCRAM ``sasl.jaas.config`` line."""
    match = re.match(r"\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\b(.*)$",
                     text.strip(), re.S)
    if not match:
        raise ConfigError("Setting 'sasl.jaas.config' is not of the form "
                          "'<LoginModule> required key=\"value\" ...;'")
    module, _, rest = match.groups()
    expected = _LOGIN_MODULES.get(mechanism)
    if expected and module != expected:
        raise ConfigError(f"Setting 'sasl.jaas.config' uses {module} but sasl.mechanism="
                          f"{mechanism} needs {expected}")
    options = {}
    for key, quoted, bare in re.findall(r'([\w.]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))', rest):
        options[key] = re.sub(r"\\(.)", r"\1", quoted) if quoted or not bare else bare
    return options.get("username"), options.get("password")


def credentials_from(get: Callable[[str, Any], Any]) -> Credentials:
    """Read sasl.* settings; raises ConfigError (never showing a password)."""
    mechanism = (get("sasl.mechanism", "GSSAPI") or "").strip().upper()
    if mechanism == "GSSAPI":
        raise ConfigError("sasl.mechanism=GSSAPI (Kerberos) is not supported by kprod; use "
                          "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER")
    if mechanism not in MECHANISMS:
        raise ConfigError(f"Unsupported sasl.mechanism {mechanism!r}; kprod supports "
                          + ", ".join(MECHANISMS))
    if mechanism == "OAUTHBEARER":
        provider = get("sasl.oauthbearer.token.provider", None)
        if not callable(provider):
            raise ConfigError("sasl.mechanism=OAUTHBEARER needs 'sasl.oauthbearer.token.provider'"
                              ": a callable returning (token, expiry_epoch_seconds)")
        return Credentials(mechanism, None, None, provider)
    username = get("sasl.username", None)
    password = get("sasl.password", None)
    jaas = get("sasl.jaas.config", None)
    if jaas:
        j_user, j_password = parse_jaas(jaas, mechanism)
        username = username or j_user
        password = password if password is not None else j_password
    if not username or password is None:
        raise ConfigError(f"sasl.mechanism={mechanism} needs a user name and password "
                          "('sasl.username'/'sasl.password' or 'sasl.jaas.config')")
    return Credentials(mechanism, username, password)


def _user_password(creds: Credentials) -> Tuple[str, str]:
    """PLAIN and SCRAM need both (credentials_from checks; this is for direct callers)."""
    if creds.username is None or creds.password is None:
        raise ConfigError(f"sasl.mechanism={creds.mechanism} needs a user name and password")
    return creds.username, creds.password


class Plain:
    def __init__(self, creds: Credentials) -> None:
        self.creds = creds

    def initial(self) -> bytes:
        username, password = _user_password(self.creds)
        return b"\0" + username.encode() + b"\0" + password.encode()

    def step(self, server: bytes) -> Optional[bytes]:
        return None


def _saslname(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def saslprep(text: str) -> str:
    """RFC 4013 in the common case: map non-ASCII spaces, drop mapped-to-nothing, NFKC."""
    text = "".join(" " if unicodedata.category(c) == "Zs" else c for c in text
                   if c not in "\u00ad\u034f\u1806\u180b\u180c\u180d\u200b\u200c\u200d"
                   "\u2060\ufe00\ufeff")
    return unicodedata.normalize("NFKC", text)


class Scram:
    def __init__(self, creds: Credentials, nonce: Optional[str] = None) -> None:
        self.creds = creds
        self.hash = _SCRAM_HASH[creds.mechanism]
        username, _ = _user_password(creds)
        self.nonce = nonce or base64.b64encode(os.urandom(24)).decode().rstrip("=")
        self.first_bare = f"n={_saslname(username)},r={self.nonce}"
        self.state = "first"
        self._server_signature = b""

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash).digest()

    def initial(self) -> bytes:
        return ("n,," + self.first_bare).encode()

    def salted_password(self, salt: bytes, iterations: int) -> bytes:
        """Hi(Normalize(password), salt, i) of RFC 5802 section 2.2: PBKDF2 with HMAC."""
        _, password = _user_password(self.creds)
        return hashlib.pbkdf2_hmac(self.hash, saslprep(password).encode(),
                                   salt, iterations)

    def step(self, server: bytes) -> Optional[bytes]:
        mech = self.creds.mechanism
        if self.state == "first":
            self.state = "final"
            text = server.decode("utf-8", "replace")
            attrs = _scram_attrs(text)
            if "e" in attrs:
                raise AuthenticationError(f"{mech} authentication failed: {attrs['e']}")
            try:
                nonce, salt = attrs["r"], base64.b64decode(attrs["s"], validate=True)
                iterations = _iteration_count(attrs["i"])
            except (KeyError, ValueError):
                raise AuthenticationError(f"{mech}: malformed server-first message") from None
            if iterations is None:
                raise AuthenticationError(f"{mech}: malformed server-first message: the "
                                          f"iteration count {attrs['i'][:20]!r} is not a "
                                          "positive 32-bit decimal number")
            if not nonce.startswith(self.nonce) or len(nonce) <= len(self.nonce):
                raise AuthenticationError(f"{mech}: the server nonce does not extend the "
                                          "client nonce (possible attack or broken server)")
            if iterations < _SCRAM_MIN_ITERATIONS:
                raise AuthenticationError(f"{mech}: the server asked for {iterations} "
                                          f"iterations, fewer than the minimum "
                                          f"{_SCRAM_MIN_ITERATIONS}")
            salted = self.salted_password(salt, iterations)
            client_key = self._hmac(salted, b"Client Key")
            stored_key = hashlib.new(self.hash, client_key).digest()
            without_proof = f"c=biws,r={nonce}"
            auth_message = f"{self.first_bare},{text},{without_proof}".encode()
            signature = self._hmac(stored_key, auth_message)
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            server_key = self._hmac(salted, b"Server Key")
            self._server_signature = self._hmac(server_key, auth_message)
            return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
        if self.state == "final":
            self.state = "done"
            attrs = _scram_attrs(server.decode("utf-8", "replace"))
            if "e" in attrs:
                raise AuthenticationError(f"{mech} authentication failed: {attrs['e']}")
            try:
                verifier = base64.b64decode(attrs["v"], validate=True)
            except (KeyError, ValueError):
                raise AuthenticationError(f"{mech}: malformed server-final message") from None
            if not hmac.compare_digest(verifier, self._server_signature):
                raise AuthenticationError(f"{mech}: invalid server signature (the broker "
                                          "does not know this user's credentials)")
            return None
        raise AuthenticationError(f"{mech}: unexpected extra server message")


def _iteration_count(text: str) -> Optional[int]:
    """RFC 5802 ``i=`` as Kafka reads it (ASCII digits, a positive Java int), else None:
    never a count PBKDF2 cannot take (hashlib raises OverflowError past 2**31-1)."""
    if not re.fullmatch(r"[0-9]{1,10}", text):
        return None
    count = int(text)
    return count if 0 < count <= 0x7FFFFFFF else None


def _scram_attrs(text: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep and len(key) == 1:
            out.setdefault(key, value)
    return out


class OAuthBearer:
    def __init__(self, creds: Credentials) -> None:
        self.creds = creds
        self.expiry_s: Optional[float] = None
        self.sent_error_ack = False

    def initial(self) -> bytes:
        provider = self.creds.token_provider
        if provider is None:
            raise ConfigError("sasl.mechanism=OAUTHBEARER needs "
                              "'sasl.oauthbearer.token.provider'")
        try:
            result = provider()
        except Exception as exc:
            raise AuthenticationError(f"OAUTHBEARER token provider failed: "
                                      f"{type(exc).__name__}") from None
        token, expiry = (result if isinstance(result, tuple) else (result, None))
        if not isinstance(token, str) or not token:
            raise AuthenticationError("OAUTHBEARER token provider returned no token string")
        self.expiry_s = float(expiry) if expiry is not None else None
        if self.expiry_s is not None and self.expiry_s <= time.time():
            raise AuthenticationError("OAUTHBEARER token provider returned an expired token")
        return f"n,,\x01auth=Bearer {token}\x01\x01".encode()

    def step(self, server: bytes) -> Optional[bytes]:
        if server and not self.sent_error_ack:
            # RFC 7628 §3.2.2: an error JSON; answer with %x01, the broker then fails.
            self.sent_error_ack = True
            return b"\x01"
        return None


def mechanism_for(creds: Credentials):
    if creds.mechanism == "PLAIN":
        return Plain(creds)
    if creds.mechanism in _SCRAM_HASH:
        return Scram(creds)
    return OAuthBearer(creds)
