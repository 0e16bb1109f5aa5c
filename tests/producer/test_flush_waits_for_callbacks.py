"""flush() and close() return only after the callbacks of the records they waited for
have run (as in Java, where a batch's latch opens after its callbacks)."""
from __future__ import annotations

import time

from kprod.producer import Producer


def test_flush_returns_after_every_callback(kafka, make_topic):
    topic = make_topic()
    seen = []

    def on_delivery(metadata, exception):
        time.sleep(0.002)            # a slow callback widens any ordering gap
        seen.append(exception is None)

    with Producer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=1) as p:
        for round_ in range(5):
            for i in range(50):
                p.send(topic, b"r%d-%d" % (round_, i), callback=on_delivery)
            p.flush(30)
            assert len(seen) == 50 * (round_ + 1) and all(seen)


def test_future_result_is_usable_inside_its_callback(kafka, make_topic):
    topic = make_topic()
    offsets = []
    with Producer(bootstrap_servers=kafka.bootstrap_servers) as p:
        futures = []

        def on_delivery(metadata, exception):
            offsets.append(futures[0].get(1).offset)   # never deadlocks

        futures.append(p.send(topic, b"x", callback=on_delivery))
        p.flush(30)
    assert offsets == [0]
