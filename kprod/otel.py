"""OpenTelemetry for a producer (the optional extra ``kprod[otel]``).

``instrument(producer)`` turns on three things (``uninstrument(producer)`` turns them off):

- **Context propagation.** A record sent while the caller's current span is recording
  gets that span's context in its headers, written by the W3C TraceContext propagator
  (``traceparent``, and ``tracestate`` when the span has one). No span is made per
  record: the consumer's spans continue the caller's trace. A record whose headers
  already carry a ``traceparent`` or ``tracestate`` (any case) is left as it is. A
  record sent outside a recording span (no span, an unsampled or non-recording one,
  a non-recording tracer provider) gets no header and stays on the native send path:
  the instrumented ``send()`` costs one current-span lookup then.
- **A span per batch** holding at least one such record: ``send <topic>``, kind
  PRODUCER, a root span linked to the records' span contexts (distinct contexts, at
  most :data:`MAX_LINKS` per batch; ``kprod.batch.links_dropped`` counts the rest).
  It starts when the batch's first Produce request is sent (or at its first traced
  record, if it never was) and ends when the batch completes; attributes follow the
  OpenTelemetry messaging conventions (``messaging.system=kafka``,
  ``messaging.operation.type=send``, ``messaging.destination.name``,
  ``messaging.destination.partition.id`` (and its deprecated predecessor
  ``messaging.kafka.destination.partition``, an int, for older backends),
  ``messaging.batch.message_count``, ``messaging.kafka.offset`` = the batch's base
  offset, ``messaging.client.id``); a failed batch has status ERROR, ``error.type``
  and the exception as an event. Batches without a traced record make no span. A
  batch split after MESSAGE_TOO_LARGE has ``kprod.batch.split=true`` instead of the
  count and offset, and ends with the piece holding its first traced record.
- **Metrics.** Every producer metric (``producer.metrics()``) is an observable
  instrument read from the metrics registry when the meter provider collects, named
  as Kafka's Java client names them when it pushes them as OpenTelemetry metrics
  (KIP-714): ``org.apache.kafka.`` + the group without ``-metrics`` + the metric
  name, dashes as dots (``record-send-total`` of producer-metrics is
  ``org.apache.kafka.producer.record.send.total``; producer-topic-metrics'
  ``byte-rate`` is ``org.apache.kafka.producer.topic.byte.rate``). Tags are
  attributes with underscores (``client_id``, ``topic``, ``node_id``). ``*-total``
  metrics are observable counters (cumulative), the rest observable gauges; averages
  without any sample yet are not reported.

``send_many`` is not traced (its records get no header). Only this module imports
opentelemetry; ``import kprod`` does not.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Set, Tuple

from opentelemetry import metrics as otel_metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kprod import __version__
from kprod._internals.metrics import GROUP
from kprod._internals.telemetry_metrics import telemetry_name
from kprod.errors import IllegalStateError
from kprod.record import ProducerRecord

if TYPE_CHECKING:
    from kprod.producer import Producer

__all__ = ["instrument", "uninstrument", "Instrumentation", "MAX_LINKS"]

log = logging.getLogger("kprod.otel")

#: The most span links a batch span carries (distinct record span contexts).
MAX_LINKS = 128

_SCOPE = "kprod"
_get_current_span = trace.get_current_span


def instrument(producer: "Producer", *, tracer_provider: Optional[trace.TracerProvider] = None,
               meter_provider: Optional[otel_metrics.MeterProvider] = None,
               tracing: bool = True, metrics: bool = True) -> "Instrumentation":
    """Trace ``producer``'s records and batches and export its metrics (see the module
    documentation). ``tracer_provider``/``meter_provider``: None = the global ones.
    ``tracing=False`` or ``metrics=False`` leaves that part out. Raises
    IllegalStateError if the producer is closed or already instrumented."""
    if producer.closed:
        raise IllegalStateError("Cannot instrument a closed producer")
    if producer._instrumentation is not None:
        raise IllegalStateError(f"{producer!r} is instrumented already; "
                                "call kprod.otel.uninstrument(producer) first")
    instrumentation = Instrumentation(producer, tracer_provider, meter_provider, tracing,
                                      metrics)
    producer._instrumentation = instrumentation
    instrumentation.attach()
    return instrumentation


def uninstrument(producer: "Producer") -> None:
    """Undo :func:`instrument` (nothing if the producer is not instrumented). Batches
    already holding traced records still get their spans."""
    instrumentation = producer._instrumentation
    if instrumentation is not None:
        instrumentation.detach()


class Instrumentation:
    """What :func:`instrument` installed on one producer."""

    def __init__(self, producer: Any, tracer_provider: Optional[trace.TracerProvider],
                 meter_provider: Optional[otel_metrics.MeterProvider], tracing: bool,
                 metrics: bool) -> None:
        self._producer = weakref.ref(producer)
        self.client_id: str = producer.config["client.id"]
        self._tracing = (_BatchTracer(trace.get_tracer(_SCOPE, __version__, tracer_provider),
                                      self.client_id) if tracing else None)
        self._metrics = (_ProducerMetricsSource(producer, meter_provider)
                         if metrics else None)

    def attach(self) -> None:
        """Install the traced send() and the sender's hook (again after a fork
        re-initialised the producer: Producer._start calls this)."""
        producer = self._producer()
        if producer is None or self._tracing is None:
            return
        native = producer._send_path.send
        producer.send = self._tracing.traced_send(native)
        producer._sender.on_produce = self._tracing.on_produce

    def detach(self) -> None:
        producer = self._producer()
        if producer is None:
            return
        if self._tracing is not None:
            producer.send = producer._send_path.send
            producer._sender.on_produce = None
        if self._metrics is not None:
            self._metrics.close()
        producer._instrumentation = None


# -- tracing -----------------------------------------------------------------------------
class _BatchTrace:
    """One batch's traced records (caller threads add, the I/O thread reads)."""
    __slots__ = ("links", "dropped", "first_ns", "sent_ns", "record_count")

    def __init__(self, now_ns: int) -> None:
        self.links: Dict[Tuple[int, int], Any] = {}   # (trace id, span id) -> SpanContext
        self.dropped = 0
        self.first_ns = now_ns
        self.sent_ns: Optional[int] = None
        self.record_count: Optional[int] = None


class _BatchTracer:
    def __init__(self, tracer: trace.Tracer, client_id: str) -> None:
        self._tracer = tracer
        self._client_id = client_id
        self._propagator: TextMapPropagator = TraceContextTextMapPropagator()
        self._fields = frozenset(f.lower() for f in self._propagator.fields)
        self._lock = threading.Lock()
        self._batches: Dict[Any, _BatchTrace] = {}    # BatchResult -> its trace
        self._last: Tuple[Any, List[Tuple[str, bytes]]] = (None, [])   # _trace_headers

    def traced_send(self, native: Any) -> Any:
        get_current_span = _get_current_span
        with_context = self._with_context

        def send(topic: Any, value: Any = None, key: Any = None,
                 partition: Optional[int] = None, timestamp: Optional[int] = None,
                 headers: Any = None, callback: Any = None, *, block: bool = True) -> Any:
            span = get_current_span()
            if not span.is_recording():
                return native(topic, value, key, partition, timestamp, headers, callback,
                              block=block)
            return with_context(native, span.get_span_context(), topic, value, key,
                                partition, timestamp, headers, callback, block)

        send.__doc__ = native.__doc__
        return send

    def _with_context(self, native: Any, context: Any, topic: Any, value: Any, key: Any,
                      partition: Optional[int], timestamp: Optional[int], headers: Any,
                      callback: Any, block: bool) -> Any:
        if isinstance(topic, ProducerRecord):
            topic = topic._replace(headers=self._inject(topic.headers, context))
        else:
            headers = self._inject(headers, context)
        future = native(topic, value, key, partition, timestamp, headers, callback,
                        block=block)
        self._link(future, context)
        return future

    def _trace_headers(self, context: Any) -> List[Tuple[str, bytes]]:
        """The propagator's headers for the current span (whose context is ``context``):
        they depend on nothing else, so a run of records in one span injects once."""
        last = self._last
        if last[0] is context:
            return last[1]
        carrier: Dict[str, str] = {}
        self._propagator.inject(carrier)
        added = [(name, text.encode("ascii")) for name, text in carrier.items()]
        self._last = (context, added)
        return added

    def _inject(self, headers: Any, context: Any) -> Any:
        """``headers`` plus the current span's trace headers, unless they have one;
        headers send() would refuse are returned as they are (send() raises its error)."""
        added = self._trace_headers(context)
        if not added:
            return headers
        if headers is None:
            return list(added)
        try:
            items = list(headers.items()) if isinstance(headers, dict) else list(headers)
            names = {item[0].lower() for item in items if isinstance(item[0], str)}
        except (TypeError, IndexError, KeyError, AttributeError):
            return headers
        if names & self._fields:
            return headers
        return items + added

    def _link(self, future: Any, context: Any) -> None:
        # The first traced record of a batch registers the done callback that makes the
        # span. (A record whose batch completed, span made, before its send() got here
        # gets a span of its own for that batch: its link is not lost.)
        result = future._batch
        key = (context.trace_id, context.span_id)
        with self._lock:
            found = self._batches.get(result)
            first = found is None
            batch = self._batches[result] = _BatchTrace(time.time_ns()) if found is None \
                else found
            if key not in batch.links:
                if len(batch.links) < MAX_LINKS:
                    batch.links[key] = context
                else:
                    batch.dropped += 1
        if first:
            future.add_done_callback(self._batch_done)

    def on_produce(self, batches: List[Any]) -> None:
        """Sender hook (I/O thread): batches put into a Produce request."""
        if not self._batches:
            return
        now = time.time_ns()
        for batch in batches:
            traced = self._batches.get(batch.result)
            if traced is not None:
                if traced.sent_ns is None:
                    traced.sent_ns = now
                traced.record_count = batch.record_count

    def _batch_done(self, future: Any) -> None:
        """The batch of a traced record completed: its span."""
        try:
            with self._lock:
                traced = self._batches.pop(future._batch, None)
            if traced is None:
                return
            self._span(future, traced)
        except Exception:
            log.exception("Recording the span of a batch failed")

    def _span(self, future: Any, traced: _BatchTrace) -> None:
        # The outcome of the batch now holding the record (a MESSAGE_TOO_LARGE split
        # routes it to a piece).
        result, delta = future._batch, future._delta
        while result._split is not None:
            result, delta = result.route(delta)
        split = result is not future._batch
        attributes: Dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": result.topic,
            "messaging.destination.partition.id": str(result.partition),
            "messaging.kafka.destination.partition": result.partition,
            "messaging.client.id": self._client_id,
        }
        if split:
            # The span ends with the piece holding the batch's first traced record; the
            # count and base offset of the pieces differ: none is given.
            attributes["kprod.batch.split"] = True
        else:
            if traced.record_count is not None:
                attributes["messaging.batch.message_count"] = traced.record_count
            if result.base_offset >= 0:
                attributes["messaging.kafka.offset"] = result.base_offset
        if traced.dropped:
            attributes["kprod.batch.links_dropped"] = traced.dropped
        error = result.error
        if error is not None:
            attributes["error.type"] = type(error).__qualname__
        span = self._tracer.start_span(
            f"send {result.topic}", context=Context(), kind=SpanKind.PRODUCER,
            attributes=attributes, links=[Link(c) for c in traced.links.values()],
            start_time=traced.sent_ns if traced.sent_ns is not None else traced.first_ns)
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()


# -- metrics -----------------------------------------------------------------------------
def _unit(name: str) -> str:
    """The UCUM unit of a Java-named metric (OpenTelemetry's convention)."""
    if name.startswith("compression"):
        return "1"                                  # compressed / uncompressed size
    if name == "byte-rate":
        return "By/s"
    if name.endswith("-rate"):
        return "1/s"
    if "latency" in name or "time" in name:
        return "ms"
    if "byte" in name or name.startswith(("batch-size", "record-size")):
        return "By"
    return "1"


class _SharedInstruments:
    """The instruments of one meter provider, shared by every producer instrumented
    with it (a second registration of a name would not get its callbacks)."""

    def __init__(self, meter: otel_metrics.Meter) -> None:
        self._meter = meter
        self._lock = threading.Lock()
        self._names: Set[str] = set()
        self.sources: "weakref.WeakSet[_ProducerMetricsSource]" = weakref.WeakSet()

    def ensure(self, group: str, name: str, description: str) -> None:
        """The instrument for (group, name). Never called from a collection callback
        (the SDK collects under the lock that registering an instrument takes)."""
        otel_name = telemetry_name(group, name)
        with self._lock:
            if otel_name in self._names:
                return
            self._names.add(otel_name)
            create = (self._meter.create_observable_counter if name.endswith("-total")
                      else self._meter.create_observable_gauge)
            create(otel_name, callbacks=[self._reader(group, name)], unit=_unit(name),
                   description=description)

    def _reader(self, group: str, name: str) -> Any:
        def observe(options: CallbackOptions) -> Iterator[Observation]:
            for source in list(self.sources):
                yield from source.observe(group, name)
        return observe


_shared: Dict[int, Tuple[Any, _SharedInstruments]] = {}
_shared_lock = threading.Lock()


def _instruments_for(provider: otel_metrics.MeterProvider) -> _SharedInstruments:
    with _shared_lock:
        entry = _shared.get(id(provider))
        if entry is None or entry[0] is not provider:
            entry = _shared[id(provider)] = (provider, _SharedInstruments(
                provider.get_meter(_SCOPE, __version__)))
        return entry[1]


class _ProducerMetricsSource:
    """One producer's metrics, read on collection. Also a metrics reporter of its
    registry, so metrics added later (a new topic, a new broker) get their instrument."""

    def __init__(self, producer: Any, meter_provider: Optional[otel_metrics.MeterProvider]
                 ) -> None:
        self._producer = weakref.ref(producer)
        self._client_id = producer.config["client.id"]
        self._registry = producer.metrics_registry.registry
        self._instruments = _instruments_for(meter_provider or otel_metrics.get_meter_provider())
        for metric in list(self._registry.metrics.values()):
            self.metric_change(metric)
        for name in producer._sender.settings.stats.snapshot():
            self._instruments.ensure(GROUP, name, "connection counter")
        self._instruments.ensure(GROUP, "batch-split-total",
                                 "batches split after MESSAGE_TOO_LARGE")
        self._instruments.sources.add(self)
        self._registry.reporters.append(self)

    # Java's MetricsReporter (called by the registry).
    def init(self, metrics: Any) -> None:
        pass

    def metric_change(self, metric: Any) -> None:
        name = metric.metric_name
        self._instruments.ensure(name.group, name.name, name.description)

    def metric_removal(self, metric: Any) -> None:
        pass            # its observations stop with it

    def close(self) -> None:
        """The producer closed (the registry closes its reporters) or uninstrument()."""
        self._instruments.sources.discard(self)
        try:
            self._registry.reporters.remove(self)
        except ValueError:
            pass

    def observe(self, group: str, name: str) -> Iterator[Observation]:
        producer = self._producer()
        if producer is None or producer.closed:
            return
        found = False
        for metric in list(self._registry.metrics.values()):
            metric_name = metric.metric_name
            if metric_name.name != name or metric_name.group != group:
                continue
            found = True
            value = metric.metric_value()
            if not math.isnan(value):
                yield Observation(value, self._attributes(metric_name.tags))
        if found or group != GROUP:
            return
        if name == "batch-split-total":
            value = producer._sender.batch_split_total
        else:
            value = producer._sender.settings.stats.snapshot().get(name)
            if value is None:
                return
        yield Observation(value, {"client_id": self._client_id})

    def _attributes(self, tags: Any) -> Dict[str, str]:
        attributes = {key.replace("-", "_"): str(value) for key, value in tags}
        attributes.setdefault("client_id", self._client_id)
        return attributes
