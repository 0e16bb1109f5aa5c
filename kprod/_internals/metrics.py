"""Producer metrics (a subset of Java's producer-metrics group, same names).

Updated by the I/O thread and by send(); plain counters under the GIL. Rates
are over the time since the producer started (Java uses sampled windows).
"""
from __future__ import annotations

import time
from typing import Dict, List, Optional


class ProducerMetrics:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.records_sent = 0
        self.records_failed = 0
        self.records_retried = 0
        self.requests = 0
        self.batches = 0
        self.batch_bytes = 0
        self.records_in_requests = 0
        self.latency_sum_ms = 0.0
        self.latency_count = 0
        self.latency_max_ms = 0.0
        self.queue_time_sum_ms = 0.0
        self.queue_time_count = 0
        self.queue_time_max_ms = 0.0
        # Produce latency per broker (Java's producer-node-metrics request-latency-*):
        # node id -> [sum ms, count, max ms]
        self.node_latency: Dict[int, List[float]] = {}
        self.uncompressed_bytes = 0
        self.compressed_bytes = 0

    def record_request(self, batches: int, records: int, size: int) -> None:
        self.requests += 1
        self.batches += batches
        self.batch_bytes += size
        self.records_in_requests += records

    def record_latency(self, ms: float, node_id: Optional[int] = None) -> None:
        self.latency_sum_ms += ms
        self.latency_count += 1
        if ms > self.latency_max_ms:
            self.latency_max_ms = ms
        if node_id is not None:
            node = self.node_latency.get(node_id)
            if node is None:
                node = self.node_latency[node_id] = [0.0, 0, 0.0]
            node[0] += ms
            node[1] += 1
            if ms > node[2]:
                node[2] = ms

    def record_queue_time(self, ms: float) -> None:
        self.queue_time_sum_ms += ms
        self.queue_time_count += 1
        if ms > self.queue_time_max_ms:
            self.queue_time_max_ms = ms

    def record_compression(self, uncompressed: int, compressed: int) -> None:
        self.uncompressed_bytes += uncompressed
        self.compressed_bytes += compressed

    def record_success(self, records: int) -> None:
        self.records_sent += records

    def record_error(self, records: int) -> None:
        self.records_failed += records

    def record_retry(self, records: int) -> None:
        self.records_retried += records

    def snapshot(self, buffer_available: int, buffer_total: int) -> Dict[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "record-send-total": self.records_sent,
            "record-send-rate": self.records_sent / elapsed,
            "record-error-total": self.records_failed,
            "record-error-rate": self.records_failed / elapsed,
            "record-retry-total": self.records_retried,
            "record-retry-rate": self.records_retried / elapsed,
            "request-total": self.requests,
            "request-rate": self.requests / elapsed,
            "batch-size-avg": self.batch_bytes / self.batches if self.batches else 0.0,
            "records-per-request-avg": (self.records_in_requests / self.requests
                                        if self.requests else 0.0),
            "request-latency-avg": (self.latency_sum_ms / self.latency_count
                                    if self.latency_count else 0.0),
            "request-latency-max": self.latency_max_ms,
            "record-queue-time-avg": (self.queue_time_sum_ms / self.queue_time_count
                                      if self.queue_time_count else 0.0),
            "record-queue-time-max": self.queue_time_max_ms,
            "compression-rate-avg": (self.compressed_bytes / self.uncompressed_bytes
                                     if self.uncompressed_bytes else 1.0),
            "buffer-available-bytes": buffer_available,
            "buffer-total-bytes": buffer_total,
        }

    def node_snapshot(self) -> Dict[int, Dict[str, float]]:
        """Per broker: request-latency-avg/max of its Produce requests."""
        return {node: {"request-latency-avg": total / count if count else 0.0,
                       "request-latency-max": peak}
                for node, (total, count, peak) in list(self.node_latency.items())}
