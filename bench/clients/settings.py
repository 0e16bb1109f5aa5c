"""The matched producer settings of a run, and each client's spelling of them.

One spec (the harness's JSON) says what every client must do; the functions here turn
it into each client's own configuration. tests/test_bench.py reads every translation
back and asserts it says the same thing, so a client can't quietly run with other
settings. What a client cannot express is listed in :data:`UNMATCHABLE` and printed
with every report.
"""
from __future__ import annotations

from typing import Any, Dict

MAX_IN_FLIGHT = 5
BUFFER_BYTES = 32 * 1024 * 1024          # Java's buffer.memory default; librdkafka: kbytes
MAX_REQUEST_SIZE = 1024 * 1024           # Java's max.request.size default
TLS_PROTOCOL = "TLSv1.3"
# A TLS 1.3 suite every TLS stack here has (OpenSSL for Python and librdkafka, JSSE).
TLS_CIPHER = "TLS_AES_128_GCM_SHA256"
# librdkafka counts messages too; set both far above what 32 MiB holds, so bytes limit.
RDKAFKA_QUEUE_MESSAGES = 10_000_000
RDKAFKA_BATCH_MESSAGES = 1_000_000       # its maximum
# The producer socket's send buffer: the OS default (Linux autotunes it up to tcp_wmem's
# maximum), which librdkafka, kafka-python and aiokafka use by default. Java and kprod
# default to a fixed 128 KiB (send.buffer.bytes), so they get -1 (the OS default):
# with 1 MB batches a 128 KiB buffer keeps every request partly written while the
# broker reads the one before it, and requests no longer pipeline.
OS_SEND_BUFFER = "os"
# The clients with a bulk path in the bulk-* scenarios, and the ceiling: before their
# clock they send one buffer.memory's worth of records the way they send the timed ones.
BULK_WARMED = ("kprod", "confluent", "ceiling")

UNMATCHABLE = {
    "aiokafka": "no buffer.memory (its accumulator is bounded per batch, not in bytes) "
                "and one request in flight per broker (no max.in.flight setting)",
    "confluent": "TLS 1.3 suites can't be set in librdkafka (ssl.cipher.suites is "
                 "OpenSSL's TLS 1.2 list): the broker's pin decides",
    "kprod": "ssl.cipher.suites takes OpenSSL TLS 1.2 names: kprod gets ssl.enabled."
             "protocols=TLSv1.3 and the broker's pin decides the suite",
    "kafka-python": "no buffer.memory setting (kafka-python 2.1 removed it); "
                    "TLS: ssl_ciphers is OpenSSL's TLS 1.2 list, the broker's pin decides",
}


def matched(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The settings every client gets, in one neutral spelling (printed per scenario)."""
    out = {"acks": str(spec["acks"]), "idempotence": bool(spec["idempotence"]),
           "linger_ms": int(spec["linger_ms"]), "batch_size": int(spec["batch_size"]),
           "max_in_flight": MAX_IN_FLIGHT, "buffer_bytes": BUFFER_BYTES,
           "max_request_size": MAX_REQUEST_SIZE, "compression": spec["compression"],
           "send_buffer": OS_SEND_BUFFER}
    if spec.get("tls"):
        out["tls"] = f"{TLS_PROTOCOL} {TLS_CIPHER}"
    return out


def kprod_config(spec: Dict[str, Any]) -> Dict[str, Any]:
    config: Dict[str, Any] = {
        "bootstrap.servers": spec["bootstrap"], "acks": spec["acks"],
        "enable.idempotence": spec["idempotence"], "linger.ms": spec["linger_ms"],
        "batch.size": spec["batch_size"],
        "max.in.flight.requests.per.connection": MAX_IN_FLIGHT,
        "buffer.memory": BUFFER_BYTES, "max.request.size": MAX_REQUEST_SIZE,
        "send.buffer.bytes": -1, "compression.type": spec["compression"]}
    if spec.get("tls"):
        config.update({"security.protocol": "SSL",
                       "ssl.truststore.location": spec["tls"]["ca"],
                       "ssl.enabled.protocols": [TLS_PROTOCOL]})
    return config


def java_props(spec: Dict[str, Any]) -> Dict[str, str]:
    """Java's producer properties (our runner and ProducerPerformance)."""
    props = {
        "bootstrap.servers": spec["bootstrap"], "acks": str(spec["acks"]),
        "enable.idempotence": str(bool(spec["idempotence"])).lower(),
        "linger.ms": str(spec["linger_ms"]), "batch.size": str(spec["batch_size"]),
        "max.in.flight.requests.per.connection": str(MAX_IN_FLIGHT),
        "buffer.memory": str(BUFFER_BYTES), "max.request.size": str(MAX_REQUEST_SIZE),
        "send.buffer.bytes": "-1", "compression.type": spec["compression"]}
    if spec.get("tls"):
        props.update({"security.protocol": "SSL", "ssl.truststore.type": "PEM",
                      "ssl.truststore.location": spec["tls"]["ca"],
                      "ssl.enabled.protocols": TLS_PROTOCOL, "ssl.protocol": TLS_PROTOCOL,
                      "ssl.cipher.suites": TLS_CIPHER})
    return props


def confluent_config(spec: Dict[str, Any]) -> Dict[str, Any]:
    config: Dict[str, Any] = {
        "bootstrap.servers": spec["bootstrap"], "acks": str(spec["acks"]),
        "enable.idempotence": spec["idempotence"], "linger.ms": spec["linger_ms"],
        # librdkafka's batch.size caps one partition's MessageSet in bytes, like Java's
        "batch.size": spec["batch_size"],
        "max.in.flight.requests.per.connection": MAX_IN_FLIGHT,
        "queue.buffering.max.kbytes": BUFFER_BYTES // 1024,
        "queue.buffering.max.messages": RDKAFKA_QUEUE_MESSAGES,
        "batch.num.messages": RDKAFKA_BATCH_MESSAGES,
        "message.max.bytes": MAX_REQUEST_SIZE,
        "socket.send.buffer.bytes": 0,           # 0: the OS default
        "compression.type": spec["compression"]}
    if spec.get("tls"):
        config.update({"security.protocol": "SSL", "ssl.ca.location": spec["tls"]["ca"]})
    return config


def _acks_python(spec: Dict[str, Any]) -> Any:
    return {"0": 0, "1": 1}.get(str(spec["acks"]), "all")


def kafka_python_config(spec: Dict[str, Any]) -> Dict[str, Any]:
    config: Dict[str, Any] = {
        "bootstrap_servers": spec["bootstrap"], "acks": _acks_python(spec),
        "enable_idempotence": spec["idempotence"], "linger_ms": spec["linger_ms"],
        "batch_size": spec["batch_size"],
        "max_in_flight_requests_per_connection": MAX_IN_FLIGHT,
        "max_request_size": MAX_REQUEST_SIZE,
        "send_buffer_bytes": None,               # None: the OS default
        "compression_type": None if spec["compression"] == "none" else spec["compression"]}
    if spec.get("tls"):
        config.update({"security_protocol": "SSL", "ssl_cafile": spec["tls"]["ca"]})
    return config


def aiokafka_config(spec: Dict[str, Any]) -> Dict[str, Any]:
    """aiokafka's keyword arguments; over TLS the runner adds its ssl_context."""
    return {
        "bootstrap_servers": spec["bootstrap"], "acks": _acks_python(spec),
        "enable_idempotence": spec["idempotence"], "linger_ms": spec["linger_ms"],
        "max_batch_size": spec["batch_size"], "max_request_size": MAX_REQUEST_SIZE,
        "compression_type": None if spec["compression"] == "none" else spec["compression"]}


def bulk_warmup_records(record_bytes: int) -> int:
    """Records a bulk-* run sends before its clock after the first one: a buffer.memory's
    worth. A fresh client's first pass through its 32 MiB touches every page of it for
    the first time; on this VM a never-used page costs about 10 us to fault in (2.6 s
    per GB, against 0.3 s for a page used before), 80 ms per fresh producer, all on the
    caller. The ceiling builds its batches before its clock, and the JVM gets its own
    warm-up: this is the same steady state for the Python clients' bulk paths."""
    return BUFFER_BYTES // max(1, record_bytes)
