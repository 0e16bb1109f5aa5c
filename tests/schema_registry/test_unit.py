"""AvroSerializer and SchemaRegistryClient without a registry process.

HTTP replies come from ``httpx.MockTransport`` handlers written per test (to
script 5xx, timeouts, 409s and count calls); the real-registry behaviour is
covered by test_apicurio.py.
"""
from __future__ import annotations

import base64
import io
import json
import socket
import struct
import time

import fastavro
import httpx
import pytest

from kprod.errors import ConfigError, SerializationError
from kprod.schema_registry import (
    AvroSerializer, IncompatibleSchemaError, SchemaRegistryClient, SchemaRegistryError,
    SchemaRegistryUnavailableError,
)
from kprod.serialization import resolve_serializer, serialize_or_raise

from .customer import CUSTOMER, Customer  # noqa: E402


class FakeRegistry:
    """Scripted registry replies: ``ids`` per subject; records every request."""

    def __init__(self, schema_id: int = 42) -> None:
        self.schema_id = schema_id
        self.requests: list[httpx.Request] = []
        self.fail_next: list[httpx.Response | Exception] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_next:
            failure = self.fail_next.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        path = request.url.path
        if request.method == "POST" and path.endswith("/versions"):
            return httpx.Response(200, json={"id": self.schema_id})
        if request.method == "POST" and path.startswith("/subjects/"):
            body = json.loads(request.content)
            return httpx.Response(200, json={"id": self.schema_id, "version": 3,
                                             "subject": path.split("/")[2],
                                             "schema": body["schema"]})
        if request.method == "GET" and path.endswith("/versions/latest"):
            return httpx.Response(200, json={"id": self.schema_id, "version": 3,
                                             "subject": path.split("/")[2],
                                             "schema": json.dumps(CUSTOMER)})
        return httpx.Response(404, json={"error_code": 40401, "message": "not found"})

    def client(self, **kwargs) -> SchemaRegistryClient:
        kwargs.setdefault("retry_backoff", 0.01)
        return SchemaRegistryClient("http://registry.test:8081",
                                    transport=httpx.MockTransport(self), **kwargs)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def decode(payload: bytes, schema=CUSTOMER):
    magic, schema_id = struct.unpack(">bI", payload[:5])
    return magic, schema_id, fastavro.schemaless_reader(
        io.BytesIO(payload[5:]), fastavro.parse_schema(schema))


def test_wire_format_and_round_trip():
    fake = FakeRegistry(schema_id=0x01020304)
    ser = AvroSerializer(fake.client(), CUSTOMER)
    value = {"id": 7, "name": "yifan", "email": "y@example.com"}
    out = ser.serialize("customers", value)
    assert out[:5] == b"\x00\x01\x02\x03\x04"
    assert decode(out) == (0, 0x01020304, value)
    # The missing optional field takes its default.
    assert decode(ser.serialize("customers", {"id": 1, "name": "a"}))[2]["email"] is None
    assert ser.serialize("customers", None) is None
    assert fake.paths() == ["POST /subjects/customers-value/versions"]
    sent = json.loads(fake.requests[0].content)
    assert json.loads(sent["schema"]) == CUSTOMER
    assert fake.requests[0].headers["content-type"] == "application/vnd.schemaregistry.v1+json"


def test_dataclasses_and_to_dict():
    fake = FakeRegistry()
    ser = AvroSerializer(fake.client(), CUSTOMER)
    assert decode(ser.serialize("t", Customer(1, "a")))[2] == {"id": 1, "name": "a", "email": None}

    class Plain:
        def __init__(self, ident, name):
            self.ident, self.name = ident, name

    one = AvroSerializer(fake.client(), CUSTOMER,
                         to_dict=lambda o: {"id": o.ident, "name": o.name})
    assert decode(one.serialize("t", Plain(5, "b")))[2]["id"] == 5
    seen = []

    def two(obj, ctx):
        seen.append(ctx)
        return {"id": obj.ident, "name": obj.name}

    AvroSerializer(fake.client(), CUSTOMER, to_dict=two, is_key=True).serialize("t", Plain(1, "c"))
    assert seen == [("t", True)]


def test_subject_name_strategies():
    fake = FakeRegistry()
    client = fake.client()
    AvroSerializer(client, CUSTOMER, is_key=True).serialize("orders", {"id": 1, "name": "a"})
    AvroSerializer(client, CUSTOMER, subject_name_strategy="record_name").serialize(
        "orders", {"id": 1, "name": "a"})
    AvroSerializer(client, CUSTOMER, subject_name_strategy="TopicRecordNameStrategy").serialize(
        "orders", {"id": 1, "name": "a"})
    AvroSerializer(client, CUSTOMER, subject_name_strategy=lambda t, k, r: f"x.{t}.{r}").serialize(
        "orders", {"id": 1, "name": "a"})
    assert fake.paths() == [
        "POST /subjects/orders-key/versions",
        "POST /subjects/customerManagement.avro.Customer/versions",
        "POST /subjects/orders-customerManagement.avro.Customer/versions",
        "POST /subjects/x.orders.customerManagement.avro.Customer/versions",
    ]
    with pytest.raises(ConfigError):
        AvroSerializer(client, CUSTOMER, subject_name_strategy="nope")


def test_ids_are_cached_per_client_and_warm_up():
    fake = FakeRegistry()
    client = fake.client()
    ser = AvroSerializer(client, CUSTOMER)
    assert ser.warm_up(["a", "b"]) == {"a-value": 42, "b-value": 42}
    for i in range(200):
        ser.serialize("a", {"id": i, "name": "n"})
    assert client.request_count == 2
    # A second serializer (e.g. of a second producer) sharing the client: no HTTP at all.
    again = AvroSerializer(client, json.dumps(CUSTOMER, indent=2))
    again.serialize("a", {"id": 1, "name": "n"})
    assert client.request_count == 2
    assert client.get_schema(42).schema_str == json.dumps(CUSTOMER, separators=(",", ":"))
    assert client.request_count == 2


def test_lookup_and_latest_version_modes():
    fake = FakeRegistry()
    lookup = AvroSerializer(fake.client(), CUSTOMER, auto_register_schemas=False)
    assert lookup.schema_id("t") == 42
    latest = AvroSerializer(fake.client(), use_latest_version=True)
    assert decode(latest.serialize("t", {"id": 3, "name": "z"}))[1] == 42
    assert fake.paths() == ["POST /subjects/t-value", "GET /subjects/t-value/versions/latest"]
    with pytest.raises(ConfigError, match="needs a schema"):
        AvroSerializer(fake.client())


def test_seed_schema_with_string_null_default_is_rejected_clearly():
    fake = FakeRegistry()
    seed = json.loads(
        '{"namespace": "customerManagement.avro", "type": "record", "name": "Customer",'
        '"fields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"},'
        '{"name": "email", "type": ["null","string"], "default":"null"}]}')
    with pytest.raises(ConfigError) as info:
        AvroSerializer(fake.client(), seed)
    message = str(info.value)
    assert "customerManagement.avro.Customer.email" in message
    assert '"default": null' in message and 'not the string "null"' in message
    assert fake.requests == []
    with pytest.raises(ConfigError, match="first branch"):
        AvroSerializer(fake.client(), {"type": "record", "name": "R", "fields": [
            {"name": "f", "type": ["string", "null"], "default": None}]})
    with pytest.raises(ConfigError, match="Invalid Avro schema"):
        AvroSerializer(fake.client(), {"type": "record", "name": "R", "fields": [
            {"name": "f", "type": "no.such.Type"}]})


def test_value_not_matching_schema_names_the_field():
    fake = FakeRegistry()
    ser = AvroSerializer(fake.client(), CUSTOMER)
    with pytest.raises(SerializationError, match=r"Customer\.id .*expected int"):
        ser.serialize("t", {"id": "seven", "name": "a"})
    with pytest.raises(SerializationError, match=r"Customer\.name"):
        ser.serialize("t", {"id": 1})
    with pytest.raises(SerializationError, match=r"Customer\.email"):
        ser.serialize("t", {"id": 1, "name": "a", "email": 3})
    # Through the producer's serializer plumbing: reported for the value of the topic.
    fn = resolve_serializer(ser, "value.serializer")
    with pytest.raises(SerializationError,
                       match=r"Can't serialize value for topic 't'.*Customer\.id"):
        serialize_or_raise(fn, "t", {"id": "x", "name": "a"}, None, "value")


def test_retries_5xx_and_transport_errors_then_succeeds():
    fake = FakeRegistry()
    fake.fail_next = [httpx.Response(503, text="busy"), httpx.ConnectError("refused"),
                      httpx.ReadTimeout("slow")]
    client = fake.client(max_retries=3)
    assert client.register_schema("s", CUSTOMER) == 42
    assert client.request_count == 4


def test_persistent_5xx_gives_typed_error_after_bounded_retries():
    fake = FakeRegistry()
    fake.fail_next = [httpx.Response(500, json={"error_code": 50001, "message": "store down"})] * 5
    client = fake.client(max_retries=2)
    with pytest.raises(SchemaRegistryError) as info:
        client.register_schema("s", CUSTOMER)
    assert (info.value.http_status, info.value.error_code) == (500, 50001)
    assert "store down" in str(info.value)
    assert client.request_count == 3


def test_409_is_an_incompatible_schema_error_with_the_registry_message():
    fake = FakeRegistry()
    fake.fail_next = [httpx.Response(409, json={"error_code": 409, "message": "field age breaks"})]
    client = fake.client()
    with pytest.raises(IncompatibleSchemaError, match="field age breaks") as info:
        client.register_schema("s", CUSTOMER)
    assert info.value.error_code == 409
    assert client.request_count == 1  # 4xx is not retried


def test_unreachable_registry_fails_within_the_timeout():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = SchemaRegistryClient(f"http://127.0.0.1:{port}", timeout=1.0, max_retries=1,
                                  retry_backoff=0.05)
    ser = AvroSerializer(client, CUSTOMER)
    start = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match=f"127.0.0.1:{port}.*2 attempt"):
        ser.warm_up("t")
    assert time.monotonic() - start < 5
    fn = resolve_serializer(ser, "value.serializer")
    with pytest.raises(SerializationError, match="no answer from"):
        serialize_or_raise(fn, "t", {"id": 1, "name": "a"}, None, "value")


def test_failover_to_the_next_url():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        if request.url.host == "down.test":
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"id": 9})

    client = SchemaRegistryClient(urls=["http://down.test", "http://up.test/api"],
                                  transport=httpx.MockTransport(handler), retry_backoff=0)
    assert client.register_schema("s", {"type": "string"}) == 9
    assert client.register_schema("s2", {"type": "string"}) == 9  # sticks to the good one
    assert calls == ["down.test", "up.test", "up.test"]


def test_basic_auth_from_argument_url_and_confluent_style_config():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=[])

    transport = httpx.MockTransport(handler)
    SchemaRegistryClient("http://r.test", auth=("u", "p"), transport=transport).get_subjects()
    SchemaRegistryClient("http://u:p@r.test", transport=transport).get_subjects()
    SchemaRegistryClient({"url": "http://r.test", "basic.auth.user.info": "u:p"},
                         transport=transport).get_subjects()
    assert seen == ["Basic " + base64.b64encode(b"u:p").decode()] * 3
    with pytest.raises(ValueError):
        SchemaRegistryClient("ftp://x")


def test_tls_settings_build_an_ssl_context():
    import ssl
    client = SchemaRegistryClient("https://r.test", verify=False)
    client.close()
    ctx = ssl.create_default_context()
    SchemaRegistryClient("https://r.test", ssl_context=ctx).close()
    with pytest.raises(FileNotFoundError):
        SchemaRegistryClient("https://r.test", ca_location="/nonexistent/ca.pem")
