"""kprod.otel tracing against the real broker: traceparent headers read back by the
reference consumer (confluent-kafka), batch spans linked to the records' spans, the
native send path kept when tracing is off."""
from __future__ import annotations

import asyncio
import subprocess
import sys

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags
import pytest

from kprod import otel
from kprod.aio import AsyncProducer
from kprod.errors import IllegalStateError, RecordTooLargeError
from kprod.record import ProducerRecord
from tests import reference
from tests.native_path import count_slow_calls
from tests.producer.test_fork import _in_child

GET_TIMEOUT = 30


def _traceparent(headers):
    """(trace id, span id, sampled flag) of the record's only traceparent header."""
    found = [value for name, value in headers or () if name == "traceparent"]
    assert len(found) == 1, headers
    version, trace_id, span_id, flags = found[0].decode().split("-")
    assert version == "00"
    return int(trace_id, 16), int(span_id, 16), int(flags, 16) & 1


def test_traceparent_of_the_current_span_is_read_back(make_topic, make_producer, bootstrap,
                                                      tracer_provider):
    topic = make_topic()
    producer = make_producer(linger_ms=5)
    otel.instrument(producer, tracer_provider=tracer_provider)
    tracer = tracer_provider.get_tracer("test")
    theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracer.start_as_current_span("parent") as parent:
        producer.send(topic, b"plain")
        producer.send(topic, b"with-headers", headers=[("app", b"1")])
        producer.send(topic, b"dict-headers", headers={"app": b"2"})
        producer.send(topic, b"their-trace", headers=[("TraceParent", theirs.encode())])
        producer.send(ProducerRecord(topic, value=b"record", headers=[("app", b"3")]))
    producer.send(topic, b"outside")
    with tracer.start_as_current_span("second") as second:
        producer.send(topic, b"second")
    producer.flush(GET_TIMEOUT)
    context = parent.get_span_context()
    messages = {m.value(): m.headers() for m in reference.consume(bootstrap, topic, 7)}
    other = second.get_span_context()
    assert _traceparent(messages[b"second"]) == (other.trace_id, other.span_id, 1)
    assert other.trace_id != context.trace_id
    for value in (b"plain", b"with-headers", b"dict-headers", b"record"):
        assert _traceparent(messages[value]) == (context.trace_id, context.span_id, 1)
    assert messages[b"with-headers"][0] == ("app", b"1")
    assert messages[b"dict-headers"][0] == ("app", b"2")
    assert messages[b"record"][0] == ("app", b"3")
    # A traceparent the caller wrote wins (header names compared without case).
    assert messages[b"their-trace"] == [("TraceParent", theirs.encode())]
    assert messages[b"outside"] is None


def test_tracestate_is_propagated(make_topic, make_producer, bootstrap, tracer_provider):
    topic = make_topic()
    producer = make_producer()
    otel.instrument(producer, tracer_provider=tracer_provider)
    remote = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1),
                         trace_state=trace.TraceState([("vendor", "value")]))
    parent = trace.set_span_in_context(NonRecordingSpan(remote))
    with tracer_provider.get_tracer("test").start_as_current_span("child", context=parent):
        producer.send(topic, b"v").get(GET_TIMEOUT)
    [message] = reference.consume(bootstrap, topic, 1)
    headers = dict(message.headers())
    assert headers["tracestate"] == b"vendor=value"
    assert _traceparent(message.headers())[0] == 0x1234


def test_batch_span_links_the_records_spans(make_topic, make_producer, tracer_provider,
                                            spans):
    topic = make_topic()
    producer = make_producer(linger_ms=60000, batch_size=1 << 20)
    otel.instrument(producer, tracer_provider=tracer_provider)
    tracer = tracer_provider.get_tracer("test")
    parents = []
    producer.send(topic, b"untraced")        # the batch holds an untraced record too
    for i in range(3):
        with tracer.start_as_current_span(f"parent-{i}") as parent:
            parents.append(parent.get_span_context())
            for j in range(4):
                producer.send(topic, b"%d-%d" % (i, j))
    producer.flush(GET_TIMEOUT)
    [batch] = [s for s in spans.get_finished_spans() if s.name == f"send {topic}"]
    assert batch.kind is SpanKind.PRODUCER
    assert batch.parent is None
    assert [(link.context.trace_id, link.context.span_id) for link in batch.links] == [
        (p.trace_id, p.span_id) for p in parents]
    attributes = dict(batch.attributes)
    assert attributes["messaging.system"] == "kafka"
    assert attributes["messaging.operation.type"] == "send"
    assert attributes["messaging.destination.name"] == topic
    assert attributes["messaging.kafka.destination.partition"] == 0
    assert attributes["messaging.destination.partition.id"] == "0"
    assert attributes["messaging.batch.message_count"] == 13
    assert attributes["messaging.kafka.offset"] == 0
    assert attributes["messaging.client.id"] == producer.config["client.id"]
    assert batch.status.status_code is StatusCode.UNSET
    assert batch.start_time <= batch.end_time


def test_batch_span_links_are_capped(make_topic, make_producer, tracer_provider, spans):
    topic = make_topic()
    producer = make_producer(linger_ms=60000, batch_size=1 << 20)
    otel.instrument(producer, tracer_provider=tracer_provider)
    tracer = tracer_provider.get_tracer("test")
    for i in range(otel.MAX_LINKS + 7):
        with tracer.start_as_current_span(f"parent-{i}"):
            producer.send(topic, b"v")
    producer.flush(GET_TIMEOUT)
    [batch] = [s for s in spans.get_finished_spans() if s.name == f"send {topic}"]
    assert len(batch.links) == otel.MAX_LINKS
    assert batch.attributes["kprod.batch.links_dropped"] == 7
    assert batch.attributes["messaging.batch.message_count"] == otel.MAX_LINKS + 7


def test_batch_span_of_a_failed_batch(make_topic, make_producer, tracer_provider, spans):
    # The broker refuses a record larger than the topic's max.message.bytes.
    topic = make_topic(configs={"max.message.bytes": "1000"})
    producer = make_producer(retries=0)
    otel.instrument(producer, tracer_provider=tracer_provider)
    with tracer_provider.get_tracer("test").start_as_current_span("parent") as parent:
        future = producer.send(topic, b"x" * 5000)
    with pytest.raises(RecordTooLargeError):
        future.get(GET_TIMEOUT)
    [batch] = [s for s in spans.get_finished_spans() if s.name == f"send {topic}"]
    assert batch.status.status_code is StatusCode.ERROR
    assert batch.attributes["error.type"] == "RecordTooLargeError"
    assert "messaging.kafka.offset" not in batch.attributes
    assert [e.name for e in batch.events] == ["exception"]
    assert batch.links[0].context.span_id == parent.get_span_context().span_id


def test_native_path_kept_when_tracing_is_off_or_on(make_topic, make_producer, bootstrap,
                                              tracer_provider, spans):
    topic = make_topic()
    producer = make_producer(linger_ms=60000)
    otel.instrument(producer, tracer_provider=tracer_provider)
    slow_calls = count_slow_calls(producer)
    n = 200
    for i in range(n // 2):                  # no current span
        producer.send(topic, b"a%d" % i)
    unsampled = SpanContext(0xabc, 0xdef, is_remote=True, trace_flags=TraceFlags(0))
    with trace.use_span(NonRecordingSpan(unsampled)):   # a span, but not recording
        for i in range(n // 2):
            producer.send(topic, b"b%d" % i)
    # A non-recording tracer provider's spans do not record either.
    with trace.NoOpTracerProvider().get_tracer("test").start_as_current_span("noop"):
        producer.send(topic, b"noop")
    producer.flush(GET_TIMEOUT)
    assert len(slow_calls) == 1          # only the first record (it opens the batch)
    messages = reference.consume(bootstrap, topic, n + 1)
    assert all(m.headers() is None for m in messages)
    assert [s for s in spans.get_finished_spans() if s.name.startswith("send ")] == []
    # A recording span's records get trace headers, a list of (str, bytes) tuples:
    # still the native path (the first opens a new batch after the flush, in Python).
    with tracer_provider.get_tracer("test").start_as_current_span("on"):
        producer.send(topic, b"traced")
        producer.send(topic, b"traced too")
    assert len(slow_calls) == 2
    producer.flush(GET_TIMEOUT)
    traced = reference.consume(bootstrap, topic, n + 3)[-2:]
    assert [m.value() for m in traced] == [b"traced", b"traced too"]
    assert len({_traceparent(m.headers()) for m in traced}) == 1


def test_not_instrumented_and_uninstrumented(make_topic, make_producer, bootstrap,
                                             tracer_provider, spans):
    topic = make_topic()
    producer = make_producer()
    native = producer.send
    assert native == producer._send_path.send
    instrumentation = otel.instrument(producer, tracer_provider=tracer_provider)
    assert producer.send != native
    with pytest.raises(IllegalStateError, match="instrumented already"):
        otel.instrument(producer, tracer_provider=tracer_provider)
    otel.uninstrument(producer)
    assert producer.send == producer._send_path.send
    assert producer._sender.on_produce is None
    with tracer_provider.get_tracer("test").start_as_current_span("parent"):
        producer.send(topic, b"v").get(GET_TIMEOUT)
    [message] = reference.consume(bootstrap, topic, 1)
    assert message.headers() is None
    assert spans.get_finished_spans()[-1].name == "parent"
    assert isinstance(instrumentation, otel.Instrumentation)
    # Again after uninstrument: allowed.
    otel.instrument(producer, tracer_provider=tracer_provider)
    producer.close(10)
    with pytest.raises(IllegalStateError, match="closed"):
        otel.instrument(producer, tracer_provider=tracer_provider)


def test_async_producer_sends_carry_the_span(make_topic, kafka, bootstrap, tracer_provider):
    # The first send to a topic waits for its metadata in the executor: the span's
    # context goes there too.
    topic = make_topic()

    async def main():
        async with AsyncProducer(bootstrap_servers=bootstrap) as producer:
            otel.instrument(producer.producer, tracer_provider=tracer_provider)
            with tracer_provider.get_tracer("test").start_as_current_span("task") as span:
                first = await producer.send(topic, b"first")
                second = await producer.send(topic, b"second")
            await first
            await second
            return span.get_span_context()

    context = asyncio.run(main())
    for message in reference.consume(bootstrap, topic, 2):
        assert _traceparent(message.headers()) == (context.trace_id, context.span_id, 1)


def test_instrumentation_survives_a_fork_that_reinitialises(make_topic, make_producer,
                                                            bootstrap, tracer_provider,
                                                            spans):
    topic = make_topic()
    producer = make_producer(kprod_fork_reinitialize=True)
    otel.instrument(producer, tracer_provider=tracer_provider)
    producer.send(topic, b"parent").get(GET_TIMEOUT)

    def child():
        with tracer_provider.get_tracer("test").start_as_current_span("child") as span:
            producer.send(topic, b"child-1").get(GET_TIMEOUT)   # re-initialises the producer
            producer.send(topic, b"child-2").get(GET_TIMEOUT)   # on the child's send path
        batch_spans = [(s.name, s.attributes.get("messaging.batch.message_count"))
                       for s in spans.get_finished_spans() if s.name.startswith("send")]
        producer.close(10)
        return {"trace_id": span.get_span_context().trace_id, "batch_spans": batch_spans}

    out = _in_child(child)
    assert "crashed" not in out, out
    assert out["batch_spans"] == [[f"send {topic}", 1], [f"send {topic}", 1]]
    messages = [m for m in reference.consume(bootstrap, topic, 3) if m.value() != b"parent"]
    assert len(messages) == 2
    for message in messages:
        assert _traceparent(message.headers())[0] == out["trace_id"]


def test_batch_span_of_a_split_batch(make_topic, make_producer, bootstrap, tracer_provider,
                                     spans):
    # The broker refuses the batch as a whole (MESSAGE_TOO_LARGE): kprod splits it.
    topic = make_topic(configs={"max.message.bytes": 2000})
    producer = make_producer(linger_ms=50, batch_size=16384)
    otel.instrument(producer, tracer_provider=tracer_provider)
    n = 40
    with tracer_provider.get_tracer("test").start_as_current_span("parent") as parent:
        for i in range(n):
            producer.send(topic, b"%03d" % i + b"x" * 100)
    producer.flush(GET_TIMEOUT)
    assert producer._sender.batch_split_total > 0
    batches = [s for s in spans.get_finished_spans() if s.name == f"send {topic}"]
    split = [s for s in batches if s.attributes.get("kprod.batch.split")]
    assert split
    for span in split:
        assert "messaging.kafka.offset" not in span.attributes
        assert "messaging.batch.message_count" not in span.attributes
        assert span.status.status_code is StatusCode.UNSET
        assert [link.context.span_id for link in span.links] == [
            parent.get_span_context().span_id]
    messages = reference.consume(bootstrap, topic, n)
    assert sorted(m.value()[:3] for m in messages) == [b"%03d" % i for i in range(n)]
    for message in messages:
        assert _traceparent(message.headers())[1] == parent.get_span_context().span_id


GLOBAL_PROVIDERS = """
import sys
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from kprod import Producer, otel

spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
bootstrap, topic = sys.argv[1:]
with Producer(bootstrap_servers=bootstrap) as producer:
    otel.instrument(producer)                      # the global providers
    with trace.get_tracer("test").start_as_current_span("parent"):
        producer.send(topic, b"v").get(30)
    names = [m.name for r in reader.get_metrics_data().resource_metrics
             for s in r.scope_metrics for m in s.metrics]
print(sorted(s.name for s in spans.get_finished_spans()))
print("org.apache.kafka.producer.record.send.total" in names)
"""


def test_global_providers_are_the_default(make_topic, bootstrap, tmp_path):
    topic = make_topic()
    program = tmp_path / "global_providers.py"
    program.write_text(GLOBAL_PROVIDERS)
    done = subprocess.run([sys.executable, str(program), bootstrap, topic],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [str(sorted(["parent", f"send {topic}"])), "True"]
