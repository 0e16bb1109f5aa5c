"""A small, caching client for the Confluent Schema Registry REST API.

Works with Confluent Schema Registry and compatible servers (Apicurio Registry's
``/apis/ccompat/v7``, Redpanda, Karapace): pass the API's base URL.

Lookups that serializers make per record are cached: ``(subject, schema) -> id``
(register / lookup) and ``id -> schema``. Transport errors, timeouts and 5xx / 429
responses are retried a bounded number of times with exponential backoff; every
other failure becomes a :class:`SchemaRegistryError` carrying the registry's
``error_code`` and ``message``.
"""
from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import httpx

from kprod.errors import KafkaError

__all__ = [
    "SchemaRegistryClient", "SchemaRegistryError", "IncompatibleSchemaError",
    "SchemaRegistryUnavailableError", "Schema", "RegisteredSchema", "CompatibilityResult",
    "canonical_schema_str",
]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

SchemaLike = Union[str, Mapping[str, Any], Sequence[Any]]


class SchemaRegistryError(KafkaError):
    """The registry answered with an error (or could not be reached).

    ``http_status`` is the HTTP status (None if no answer), ``error_code`` the
    registry's code (e.g. 40401 subject not found, 409 incompatible, 42201 invalid
    schema), ``message`` the registry's own message.
    """

    def __init__(self, message: str, http_status: Optional[int] = None,
                 error_code: Optional[int] = None, url: Optional[str] = None) -> None:
        self.message = message
        self.http_status = http_status
        self.error_code = error_code
        self.url = url
        where = f" ({url})" if url else ""
        code = f" [error_code={error_code}, http_status={http_status}]" if http_status else ""
        super().__init__(f"Schema registry error{code}{where}: {message}")


class IncompatibleSchemaError(SchemaRegistryError):
    """409: the schema breaks the subject's compatibility rule (message from the registry)."""


class SchemaRegistryUnavailableError(SchemaRegistryError):
    """No answer from any registry URL within the retries and timeouts."""


@dataclass(frozen=True)
class Schema:
    """A schema as the registry stores it (``schema_str`` is JSON text for Avro)."""

    schema_str: str
    schema_type: str = "AVRO"
    references: Tuple[Any, ...] = ()


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema registered under a subject."""

    schema_id: int
    subject: str
    version: int
    schema: Schema


@dataclass(frozen=True)
class CompatibilityResult:
    """Answer of a compatibility check; ``messages`` explains an incompatibility."""

    is_compatible: bool
    messages: List[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.is_compatible


def canonical_schema_str(schema: SchemaLike) -> str:
    """Compact JSON text of a schema given as text or parsed JSON (for caching and sending)."""
    if isinstance(schema, str):
        text = schema
        try:
            schema = json.loads(text)
        except ValueError:
            return text.strip()  # not JSON (e.g. protobuf text): keep as given
    return json.dumps(schema, separators=(",", ":"), sort_keys=False)


def _conf_get(conf: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in conf:
            return conf[name]
    return None


class SchemaRegistryClient:
    """Talks to a Confluent-compatible schema registry.

    ``SchemaRegistryClient("http://localhost:8081")`` or with several URLs for
    failover (``urls=[...]``, tried in order on connection errors). A mapping
    with confluent-kafka's keys also works: ``{"url": ..., "basic.auth.user.info":
    "user:password", "ssl.ca.location": ...}``.

    :param auth: ``(user, password)`` for HTTP basic auth (credentials in the URL,
        ``http://user:pw@host``, work too).
    :param timeout: seconds per HTTP attempt (connect, read, write).
    :param max_retries: extra attempts after a transport error, timeout, 5xx or 429.
        The worst case for one call is about ``(max_retries + 1) * timeout`` plus
        the backoff (``retry_backoff`` doubling, capped at ``retry_backoff_max``).
    :param verify: verify the server's TLS certificate (default True).
    :param ca_location: CA bundle (PEM) to verify the server with.
    :param certificate_location, key_location, key_password: client certificate (mTLS).
    :param ssl_context: a ready :class:`ssl.SSLContext`; overrides the TLS options.
    :param headers: extra HTTP headers sent with every request.
    :param transport: an ``httpx`` transport (tests, proxies).

    Thread-safe; share one client between serializers so they share its caches.
    ``request_count`` counts HTTP requests sent (including retries).
    """

    def __init__(self, url: Union[str, Mapping[str, Any], None] = None, *,
                 urls: Optional[Sequence[str]] = None,
                 auth: Optional[Tuple[str, str]] = None,
                 timeout: float = 10.0, max_retries: int = 2,
                 retry_backoff: float = 0.1, retry_backoff_max: float = 1.0,
                 verify: bool = True, ca_location: Optional[str] = None,
                 certificate_location: Optional[str] = None,
                 key_location: Optional[str] = None, key_password: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 headers: Optional[Mapping[str, str]] = None,
                 transport: Optional[httpx.BaseTransport] = None) -> None:
        if isinstance(url, Mapping):
            conf = dict(url)
            url = None
            urls = urls or [u.strip() for u in str(_conf_get(conf, "url") or "").split(",")
                            if u.strip()]
            info = _conf_get(conf, "basic.auth.user.info")
            if info and auth is None:
                user, _, password = str(info).partition(":")
                auth = (user, password)
            ca_location = ca_location or _conf_get(conf, "ssl.ca.location")
            certificate_location = certificate_location or _conf_get(
                conf, "ssl.certificate.location")
            key_location = key_location or _conf_get(conf, "ssl.key.location")
            key_password = key_password or _conf_get(conf, "ssl.key.password")
            if _conf_get(conf, "timeout") is not None:
                timeout = float(conf["timeout"])
            if _conf_get(conf, "max.retries") is not None:
                max_retries = int(conf["max.retries"])
        all_urls: List[str] = []
        if url:
            all_urls.extend(u.strip() for u in url.split(",") if u.strip())
        all_urls.extend(urls or ())
        if not all_urls:
            raise ValueError("SchemaRegistryClient needs a URL (url=... or urls=[...])")
        if timeout <= 0 or max_retries < 0:
            raise ValueError("timeout must be > 0 and max_retries >= 0")
        self.urls: List[str] = []
        for u in all_urls:
            parts = urllib.parse.urlsplit(u)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"invalid schema registry URL {u!r} (need http(s)://host[:port])")
            if parts.username is not None and auth is None:
                auth = (urllib.parse.unquote(parts.username),
                        urllib.parse.unquote(parts.password or ""))
            netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            if ":" in parts.hostname:  # IPv6 literal
                netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
            self.urls.append(urllib.parse.urlunsplit(
                (parts.scheme, netloc, parts.path.rstrip("/"), "", "")))
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        if ssl_context is None and (ca_location or certificate_location or not verify):
            ssl_context = ssl.create_default_context(cafile=ca_location)
            if not verify:
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
            if certificate_location:
                ssl_context.load_cert_chain(certificate_location, key_location, key_password)
        client_kwargs: Dict[str, Any] = {
            "timeout": httpx.Timeout(timeout),
            "headers": {"Accept": f"{_CONTENT_TYPE}, application/json",
                        **(headers or {})},
            "auth": httpx.BasicAuth(*auth) if auth else None,
            "verify": ssl_context if ssl_context is not None else True,
            "follow_redirects": False,
        }
        if transport is not None:
            client_kwargs["transport"] = transport
        self._http = httpx.Client(**client_kwargs)
        self._lock = threading.Lock()
        self._id_by_schema: Dict[Tuple[str, str], int] = {}
        self._registered_by_schema: Dict[Tuple[str, str], RegisteredSchema] = {}
        self._schema_by_id: Dict[int, Schema] = {}
        self._preferred = 0  # index of the URL that answered last
        self.request_count = 0

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SchemaRegistryClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SchemaRegistryClient({', '.join(self.urls)})"

    # -- API -------------------------------------------------------------------------
    def register_schema(self, subject: str, schema: SchemaLike,
                        schema_type: str = "AVRO") -> int:
        """Register ``schema`` under ``subject`` (idempotent); return its id. Cached."""
        text = canonical_schema_str(schema)
        key = (subject, text)
        cached = self._id_by_schema.get(key)
        if cached is not None:
            return cached
        reply = self._request("POST", f"/subjects/{_quote(subject)}/versions",
                              _schema_body(text, schema_type))
        schema_id = int(reply["id"])
        with self._lock:
            self._id_by_schema[key] = schema_id
            self._schema_by_id.setdefault(schema_id, Schema(text, schema_type))
        return schema_id

    def lookup_schema(self, subject: str, schema: SchemaLike,
                      schema_type: str = "AVRO") -> RegisteredSchema:
        """The registered version of ``schema`` under ``subject`` (40403 error if absent).
        Cached."""
        text = canonical_schema_str(schema)
        key = (subject, text)
        cached = self._registered_by_schema.get(key)
        if cached is not None:
            return cached
        reply = self._request("POST", f"/subjects/{_quote(subject)}",
                              _schema_body(text, schema_type))
        registered = self._registered(reply, subject)
        with self._lock:
            self._registered_by_schema[key] = registered
            self._id_by_schema[key] = registered.schema_id
        return registered

    def get_schema(self, schema_id: int) -> Schema:
        """The schema with global id ``schema_id``. Cached (ids are immutable)."""
        cached = self._schema_by_id.get(schema_id)
        if cached is not None:
            return cached
        reply = self._request("GET", f"/schemas/ids/{int(schema_id)}")
        schema = Schema(reply["schema"], reply.get("schemaType") or "AVRO",
                        tuple(reply.get("references") or ()))
        with self._lock:
            self._schema_by_id[schema_id] = schema
        return schema

    def get_latest_version(self, subject: str) -> RegisteredSchema:
        """The newest version registered under ``subject`` (not cached: it can change)."""
        return self.get_version(subject, "latest")

    def get_version(self, subject: str, version: Union[int, str]) -> RegisteredSchema:
        """Version ``version`` (a number or ``"latest"``) of ``subject``."""
        reply = self._request("GET", f"/subjects/{_quote(subject)}/versions/{version}")
        registered = self._registered(reply, subject)
        with self._lock:
            self._schema_by_id.setdefault(registered.schema_id, registered.schema)
        return registered

    def get_versions(self, subject: str) -> List[int]:
        return [int(v) for v in self._request("GET", f"/subjects/{_quote(subject)}/versions")]

    def get_subjects(self) -> List[str]:
        return list(self._request("GET", "/subjects"))

    def delete_subject(self, subject: str, permanent: bool = False) -> List[int]:
        """Delete every version of ``subject``; returns the deleted version numbers."""
        versions = self._request("DELETE", f"/subjects/{_quote(subject)}")
        if permanent:
            self._request("DELETE", f"/subjects/{_quote(subject)}?permanent=true")
        with self._lock:
            for cache in (self._id_by_schema, self._registered_by_schema):
                for key in [k for k in cache if k[0] == subject]:
                    del cache[key]
        return [int(v) for v in versions]

    def test_compatibility(self, subject: str, schema: SchemaLike,
                           version: Union[int, str] = "latest",
                           schema_type: str = "AVRO") -> CompatibilityResult:
        """Would ``schema`` be accepted under ``subject``'s compatibility rule?"""
        reply = self._request(
            "POST", f"/compatibility/subjects/{_quote(subject)}/versions/{version}?verbose=true",
            _schema_body(canonical_schema_str(schema), schema_type))
        messages = reply.get("messages") or []
        if not messages and reply.get("reason"):  # Apicurio's form
            messages = [reply["reason"]]
        return CompatibilityResult(bool(reply.get("is_compatible")), list(messages))

    def set_compatibility(self, level: str, subject: Optional[str] = None) -> str:
        """Set the compatibility level (BACKWARD, FORWARD, FULL, NONE, *_TRANSITIVE)
        of ``subject``, or the global default when ``subject`` is None."""
        path = f"/config/{_quote(subject)}" if subject else "/config"
        reply = self._request("PUT", path, {"compatibility": level.upper()})
        return str(reply.get("compatibility") or reply.get("compatibilityLevel"))

    def get_compatibility(self, subject: Optional[str] = None) -> str:
        path = f"/config/{_quote(subject)}" if subject else "/config"
        reply = self._request("GET", path)
        return str(reply.get("compatibilityLevel") or reply.get("compatibility"))

    # -- internals -------------------------------------------------------------------
    @staticmethod
    def _registered(reply: Mapping[str, Any], subject: str) -> RegisteredSchema:
        return RegisteredSchema(
            int(reply["id"]), reply.get("subject", subject), int(reply.get("version", 0)),
            Schema(reply["schema"], reply.get("schemaType") or "AVRO",
                   tuple(reply.get("references") or ())))

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": _CONTENT_TYPE} if content is not None else None
        attempts = self.max_retries + 1
        start = time.monotonic()
        last: Optional[BaseException] = None
        last_url = self.urls[self._preferred]
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self.retry_backoff * (2 ** (attempt - 1)), self.retry_backoff_max))
            # On connection failures move on to the next URL (failover), keeping the order.
            base = self.urls[(self._preferred + attempt) % len(self.urls)]
            last_url = base + path
            try:
                with self._lock:
                    self.request_count += 1
                resp = self._http.request(method, last_url, content=content, headers=headers)
            except httpx.TransportError as exc:  # connect/read errors and timeouts
                last = exc
                continue
            if resp.status_code in _RETRY_STATUS and attempt + 1 < attempts:
                last = _error_from(resp, last_url)
                continue
            self._preferred = self.urls.index(base)
            if resp.status_code >= 400:
                raise _error_from(resp, last_url)
            try:
                return resp.json() if resp.content else None
            except ValueError:
                raise SchemaRegistryError(
                    f"invalid JSON in HTTP {resp.status_code} reply: {resp.text[:200]!r}",
                    resp.status_code, None, last_url) from None
        if isinstance(last, SchemaRegistryError):
            raise last
        elapsed = time.monotonic() - start
        raise SchemaRegistryUnavailableError(
            f"no answer from {', '.join(self.urls)} after {attempts} attempt(s) in "
            f"{elapsed:.1f}s (timeout {self.timeout:g}s each): {type(last).__name__}: {last}",
            url=last_url) from last


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _error_from(resp: httpx.Response, url: str) -> SchemaRegistryError:
    code: Optional[int] = None
    try:
        payload = resp.json()
        message = str(payload.get("message") or payload)
        code = payload.get("error_code")
        code = int(code) if code is not None else None
    except (ValueError, AttributeError):
        message = resp.text[:500] or resp.reason_phrase
    cls = IncompatibleSchemaError if resp.status_code == 409 else SchemaRegistryError
    return cls(message, resp.status_code, code if code is not None else resp.status_code, url)


def _schema_body(text: str, schema_type: str) -> Dict[str, Any]:
    """The request body naming a schema (schemaType only when not the default AVRO)."""
    body: Dict[str, Any] = {"schema": text}
    if schema_type != "AVRO":
        body["schemaType"] = schema_type
    return body
