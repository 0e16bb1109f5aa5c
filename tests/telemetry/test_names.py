"""KIP-714 metric names from Java's metric names (group, name, tags)."""
from kprod._internals.telemetry import Sample
from kprod._internals.telemetry_metrics import samples, telemetry_name


def test_names_follow_java():
    assert telemetry_name("producer-metrics", "record-queue-time-avg") == \
        "org.apache.kafka.producer.record.queue.time.avg"
    assert telemetry_name("producer-node-metrics", "request-latency-max") == \
        "org.apache.kafka.producer.node.request.latency.max"
    assert telemetry_name("producer-topic-metrics", "record-send-total") == \
        "org.apache.kafka.producer.topic.record.send.total"


def test_tags_become_attributes_without_the_client_id():
    (sample,) = samples([("producer-topic-metrics", "byte-total",
                          (("client-id", "p-1"), ("topic", "orders")), 7)])
    assert sample == Sample("org.apache.kafka.producer.topic.byte.total", 7.0,
                            (("topic", "orders"),), True)
    (node,) = samples([("producer-node-metrics", "request-latency-avg",
                        (("node-id", "node-3"),), 1.5)])
    assert node.attributes == (("node_id", "node-3"),) and not node.total
