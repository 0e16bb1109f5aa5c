// The benchmark's Java runner: the same records, keys, headers and clock as the Python
// runners (bench/clients/_common.py), on the plain Java producer with a callback per
// record. Compiled by bench/clients/java.py with javac against the cached kafka-clients
// jar. Usage: java KprodBench <bench.properties> <producer.properties>
//
// Phases, all in one JVM: one warm-up record sent and flushed (metadata, connection,
// producer id), then `warmup.records` more unpaced and flushed so the JIT has compiled
// the hot path, then the clock: from the first timed send until flush() returns, with
// the process's CPU time (all JVM threads: ours, the sender's, GC and JIT) read at the
// same two moments. The result is one line, "KPROD-BENCH-RESULT " + JSON.
import java.io.FileInputStream;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class KprodBench {
    static final double[] CDF_QUANTILES = cdfQuantiles();

    static final class Tally implements Callback {
        final AtomicLong acked = new AtomicLong();
        final AtomicLong errors = new AtomicLong();
        final AtomicReference<String> firstError = new AtomicReference<>();

        @Override
        public void onCompletion(org.apache.kafka.clients.producer.RecordMetadata md, Exception e) {
            if (e == null) {
                acked.incrementAndGet();
            } else {
                errors.incrementAndGet();
                firstError.compareAndSet(null, e.toString());
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Properties bench = load(args[0]);
        Properties props = load(args[1]);
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        String topic = bench.getProperty("topic");
        int n = Integer.parseInt(bench.getProperty("num.records"));
        int warmup = Integer.parseInt(bench.getProperty("warmup.records"));
        int keySize = Integer.parseInt(bench.getProperty("key.size"));
        int headerCount = Integer.parseInt(bench.getProperty("headers"));
        double rate = Double.parseDouble(bench.getProperty("rate"));
        boolean latency = Boolean.parseBoolean(bench.getProperty("latency"));

        List<byte[]> values = new ArrayList<>();
        for (String line : new String(Files.readAllBytes(Paths.get(bench.getProperty("payload.file"))),
                StandardCharsets.ISO_8859_1).split("\n")) {
            if (!line.isEmpty()) values.add(line.getBytes(StandardCharsets.ISO_8859_1));
        }
        int pool = values.size();
        byte[][] keys = new byte[pool][];
        Header[][] headers = new Header[pool][];
        for (int i = 0; i < pool; i++) {
            if (keySize > 0) keys[i] = tail(Long.toString(i * 7919L), keySize);
            if (headerCount > 0) headers[i] = headerList(i, headerCount);
        }

        com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        Tally warm = new Tally();
        Tally tally = new Tally();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            producer.send(record(topic, keys[0], values.get(0), headers[0]), warm);
            producer.flush();
            for (int i = 0; i < warmup; i++) {   // JIT warm-up, unpaced, off the clock
                int j = i % pool;
                producer.send(record(topic, keys[j], values.get(j), headers[j]), warm);
            }
            producer.flush();

            long[] sent = latency ? new long[n] : null;
            long[] ackedAt = latency ? new long[n] : null;
            long interval = rate > 0 ? (long) (1e9 / rate) : 0;
            System.out.println("KPROD-BENCH-CLOCK start");   // the harness reads the broker's CPU
            System.out.flush();
            long cpu0 = os.getProcessCpuTime();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (interval > 0) {   // record i is due at t0 + i/rate (the Python Pacer)
                    long ahead = t0 + (long) (i * 1e9 / rate) - System.nanoTime();
                    if (ahead > 500_000) LockSupport.parkNanos(ahead);
                }
                int j = i % pool;
                ProducerRecord<byte[], byte[]> r = record(topic, keys[j], values.get(j), headers[j]);
                if (latency) {
                    final int index = i;
                    sent[i] = System.nanoTime();
                    producer.send(r, (md, e) -> {
                        ackedAt[index] = System.nanoTime();
                        tally.onCompletion(md, e);
                    });
                } else {
                    producer.send(r, tally);
                }
            }
            producer.flush();
            long t1 = System.nanoTime();
            long cpu1 = os.getProcessCpuTime();
            System.out.println("KPROD-BENCH-CLOCK stop");
            System.out.flush();

            StringBuilder out = new StringBuilder("KPROD-BENCH-RESULT {");
            out.append("\"sent\": ").append(n)
               .append(", \"acked\": ").append(tally.acked.get())
               .append(", \"errors\": ").append(tally.errors.get())
               .append(", \"first_error\": ").append(jsonString(tally.firstError.get()))
               .append(", \"warmup_acked\": ").append(warm.acked.get())
               .append(", \"warmup_errors\": ").append(warm.errors.get())
               .append(", \"elapsed_s\": ").append((t1 - t0) / 1e9)
               .append(", \"cpu_s\": ").append((cpu1 - cpu0) / 1e9)
               .append(", \"max_rss_mb\": ").append(peakRssMb())
               .append(", \"latency_ms\": ").append(latency ? latencyJson(sent, ackedAt) : "null")
               .append(", \"notes\": []}");
            System.out.println(out);
            System.out.flush();
        }
    }

    static ProducerRecord<byte[], byte[]> record(String topic, byte[] key, byte[] value, Header[] headers) {
        return headers == null ? new ProducerRecord<>(topic, key, value)
                               : new ProducerRecord<>(topic, null, key, value, Arrays.asList(headers));
    }

    // str(x).zfill(size)[-size:] in Python
    static byte[] tail(String digits, int size) {
        StringBuilder s = new StringBuilder();
        for (int i = digits.length(); i < size; i++) s.append('0');
        s.append(digits);
        return s.substring(s.length() - size).getBytes(StandardCharsets.US_ASCII);
    }

    // bench.clients._common.header_pool
    static Header[] headerList(int i, int count) {
        String[][] fixed = {{"source", "kprod-bench"}, {"schema", "v1"}, {"region", "eu-1"}};
        Header[] out = new Header[count];
        out[0] = new RecordHeader("trace-id", tail(Long.toString(i * 104729L), 16));
        for (int h = 1; h < count; h++) {
            out[h] = new RecordHeader(fixed[h - 1][0], fixed[h - 1][1].getBytes(StandardCharsets.US_ASCII));
        }
        return out;
    }

    static double[] cdfQuantiles() {   // bench.clients._common.CDF_QUANTILES
        double[] q = new double[104];
        for (int i = 0; i < 100; i++) q[i] = i / 100.0;
        q[100] = 0.995; q[101] = 0.999; q[102] = 0.9995; q[103] = 0.9999;
        return q;
    }

    static String latencyJson(long[] sent, long[] acked) {
        double[] lat = new double[sent.length];
        int m = 0;
        for (int i = 0; i < sent.length; i++) {
            if (acked[i] != 0) lat[m++] = (acked[i] - sent[i]) / 1e6;
        }
        if (m == 0) return "{}";
        lat = Arrays.copyOf(lat, m);
        Arrays.sort(lat);
        StringBuilder s = new StringBuilder("{");
        s.append("\"p50\": ").append(pick(lat, 0.50)).append(", \"p99\": ").append(pick(lat, 0.99))
         .append(", \"p999\": ").append(pick(lat, 0.999)).append(", \"max\": ").append(lat[m - 1])
         .append(", \"count\": ").append(m).append(", \"cdf\": [");
        for (double q : CDF_QUANTILES) s.append('[').append(q).append(", ").append(pick(lat, q)).append("], ");
        s.append("[1.0, ").append(lat[m - 1]).append("]]}");
        return s.toString();
    }

    static double pick(double[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) (q * sorted.length))];
    }

    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.split("\\s+")[1]) / 1024.0;
            }
        } catch (Exception e) {
            // not Linux: no figure
        }
        return 0.0;
    }

    static String jsonString(String s) {
        if (s == null) return "null";
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.append('"').toString();
    }

    static Properties load(String path) throws Exception {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(path)) {
            p.load(in);
        }
        return p;
    }
}
