// Test-only broker plugin (KIP-714): a metrics reporter that is also the broker's
// ClientTelemetry receiver. Every PushTelemetry the broker accepts is decoded with the
// OpenTelemetry classes kafka-clients ships (shaded) and appended to a file as one JSON
// line, so a test can check what kprod pushed with an implementation not its own.
// Compiled with javac by tests/telemetry/test_real_broker.py; set
// "kprod.telemetry.recorder.file" in the broker's properties.
package kprodtest;

import java.io.FileWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.server.authorizer.AuthorizableRequestContext;
import org.apache.kafka.server.telemetry.ClientTelemetry;
import org.apache.kafka.server.telemetry.ClientTelemetryPayload;
import org.apache.kafka.server.telemetry.ClientTelemetryReceiver;
import org.apache.kafka.shaded.io.opentelemetry.proto.common.v1.KeyValue;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.Metric;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.MetricsData;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ScopeMetrics;

public class TelemetryRecorder implements MetricsReporter, ClientTelemetry, ClientTelemetryReceiver {
    private String file;

    @Override
    public void configure(Map<String, ?> configs) {
        Object value = configs.get("kprod.telemetry.recorder.file");
        file = value == null ? null : value.toString();
    }

    @Override public void init(List<KafkaMetric> metrics) { }
    @Override public void metricChange(KafkaMetric metric) { }
    @Override public void metricRemoval(KafkaMetric metric) { }
    @Override public void close() { }

    @Override
    public ClientTelemetryReceiver clientReceiver() {
        return this;
    }

    @Override
    public synchronized void exportMetrics(AuthorizableRequestContext context,
                                           ClientTelemetryPayload payload) {
        if (file == null) return;
        ByteBuffer data = payload.data().duplicate();
        byte[] raw = new byte[data.remaining()];
        data.get(raw);
        StringBuilder out = new StringBuilder();
        out.append("{\"client_instance_id\":").append(quote(payload.clientInstanceId().toString()))
           .append(",\"terminating\":").append(payload.isTerminating())
           .append(",\"content_type\":").append(quote(payload.contentType()))
           .append(",\"client_id\":").append(quote(context.clientId()))
           .append(",\"payload\":").append(quote(Base64.getEncoder().encodeToString(raw)));
        try {
            MetricsData parsed = MetricsData.parseFrom(raw);
            out.append(",\"metrics\":[");
            boolean first = true;
            for (ResourceMetrics rm : parsed.getResourceMetricsList())
                for (ScopeMetrics sm : rm.getScopeMetricsList())
                    for (Metric m : sm.getMetricsList()) {
                        if (!first) out.append(',');
                        first = false;
                        appendMetric(out, m);
                    }
            out.append(']');
        } catch (Exception e) {
            out.append(",\"parse_error\":").append(quote(e.toString()));
        }
        out.append("}\n");
        try (FileWriter writer = new FileWriter(file, true)) {
            writer.write(out.toString());
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static void appendMetric(StringBuilder out, Metric m) {
        List<NumberDataPoint> points;
        String kind;
        if (m.hasGauge()) {
            kind = "gauge";
            points = m.getGauge().getDataPointsList();
        } else if (m.hasSum()) {
            kind = m.getSum().getIsMonotonic() ? "monotonic_sum" : "sum";
            kind += ":" + m.getSum().getAggregationTemporality().name();
            points = m.getSum().getDataPointsList();
        } else {
            kind = m.getDataCase().name();
            points = List.of();
        }
        out.append("{\"name\":").append(quote(m.getName()))
           .append(",\"kind\":").append(quote(kind)).append(",\"points\":[");
        for (int i = 0; i < points.size(); i++) {
            NumberDataPoint p = points.get(i);
            if (i > 0) out.append(',');
            double value = p.hasAsDouble() ? p.getAsDouble() : (double) p.getAsInt();
            out.append("{\"value\":").append(Double.isFinite(value) ? Double.toString(value) : "null")
               .append(",\"time_unix_nano\":").append(Long.toUnsignedString(p.getTimeUnixNano()))
               .append(",\"attributes\":{");
            for (int j = 0; j < p.getAttributesCount(); j++) {
                KeyValue kv = p.getAttributes(j);
                if (j > 0) out.append(',');
                out.append(quote(kv.getKey())).append(':').append(quote(kv.getValue().getStringValue()));
            }
            out.append("}}");
        }
        out.append("]}");
    }

    private static String quote(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
