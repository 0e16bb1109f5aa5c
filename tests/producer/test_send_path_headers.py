"""send() with headers on the native path, and the size checks it may skip.

A list of (str, bytes or None) tuples with ASCII names, or a dict of them, appends
natively; any other header form goes through the Python send, which normalizes it.
Both must put the same headers on the broker (read back by confluent-kafka). A record
is only exempt from the max.request.size / buffer.memory check when its batch cannot
exceed either limit, on both paths: with a small max.request.size every record is
checked (Java's ensureValidRecordSize checks each one).
"""
from __future__ import annotations

import random

import pytest

from kprod._native.record_encoding import record_size_upper_bound
from kprod.errors import RecordTooLargeError

from ..native_path import count_slow_calls
from .readback import read_all

GET_TIMEOUT = 30


def test_plain_header_lists_append_natively_and_read_back(make_topic, make_producer,
                                                          bootstrap):
    topic = make_topic()
    producer = make_producer(linger_ms=1000)
    slow_calls = count_slow_calls(producer)
    native = [
        [("trace-id", b"0123456789abcdef"), ("source", b"svc")],
        [("empty", b""), ("null", None)],
        [],                                  # no headers
        [("a", b"1"), ("a", b"2")],          # repeated names keep their order
        {"first": b"1", "second": None},     # a dict: its items, in order
        {},
    ]
    for i, headers in enumerate(native):
        producer.send(topic, b"v%d" % i, headers=headers)
    # Opening the batch took the Python path once; the rest appended natively.
    assert len(slow_calls) == 1
    normalized = [
        ({"name": "caf\u00e9"}, [("name", b"caf\xc3\xa9")]),       # a dict, str value
        ([("str-value", "text")], [("str-value", b"text")]),      # a str value
        ([("n\u00e4me", b"x")], [("n\u00e4me", b"x")]),            # a non-ASCII name
        ([["as-list", b"x"]], [("as-list", b"x")]),                # a list, not a tuple
        ([("view", bytearray(b"ba"))], [("view", b"ba")]),        # not bytes
    ]
    for i, (headers, _) in enumerate(normalized):
        producer.send(topic, b"s%d" % i, headers=headers)
    assert len(slow_calls) == 1 + len(normalized)
    producer.flush(GET_TIMEOUT)
    msgs = read_all(bootstrap, topic, len(native) + len(normalized))
    got = [(m.value, m.headers or []) for m in msgs]
    want = ([(b"v%d" % i, list(h.items()) if isinstance(h, dict) else h)
             for i, h in enumerate(native)]
            + [(b"s%d" % i, h) for i, (_, h) in enumerate(normalized)])
    assert got == want


def test_bad_headers_on_the_native_path_still_raise(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()
    producer.send(topic, b"first").get(GET_TIMEOUT)      # a batch is open from now on
    with pytest.raises(Exception, match="header"):
        producer.send(topic, b"v", headers=[(1, b"x")])
    with pytest.raises(Exception, match="header"):
        producer.send(topic, b"v", headers=[("k", 5)])


@pytest.mark.parametrize("headers", [None, [("h", b"x" * 50)]])
def test_small_max_request_size_checks_every_record(make_topic, make_producer, headers):
    topic = make_topic()
    producer = make_producer({"max.request.size": 600, "batch.size": 16384})
    producer.send(topic, b"small", headers=headers).get(GET_TIMEOUT)   # batch open
    for _ in range(3):      # native path or not, each is refused before it is queued
        with pytest.raises(RecordTooLargeError, match=r"larger than max.request.size \(600\)"):
            producer.send(topic, b"v" * 600, headers=headers)
    assert producer.send(topic, b"v" * 400, headers=headers).get(GET_TIMEOUT).offset == 1


def test_unchecked_records_fit_the_bound_margin():
    """The producer skips the size check for key + value + header bytes (10 per header
    for its varints) up to min(limit) - 128: the batch's upper bound must stay within
    128 bytes of that sum for any shape of record."""
    rnd = random.Random(5)
    for _ in range(2000):
        key = None if rnd.random() < 0.3 else b"k" * rnd.randint(0, 600)
        value = None if rnd.random() < 0.1 else b"v" * rnd.randint(0, 1024)
        headers = [("h" * rnd.randint(0, 40), None if rnd.random() < 0.2
                    else b"x" * rnd.randint(0, 200)) for _ in range(rnd.randint(0, 8))]
        total = ((-1 if key is None else len(key)) + (-1 if value is None else len(value))
                 + sum(len(n) + 10 + (len(v) if v is not None else 0) for n, v in headers))
        assert record_size_upper_bound(key, value, headers or None) <= total + 128


def test_send_many_checks_sizes_as_send_does(make_topic, make_producer):
    """send_many has send()'s semantics: below a small max.request.size the same
    records are refused, before anything of the call is queued."""
    topic = make_topic()
    producer = make_producer({"max.request.size": 600})
    with pytest.raises(RecordTooLargeError, match="max.request.size"):
        producer.send(topic, b"v" * 600)
    with pytest.raises(RecordTooLargeError, match="max.request.size") as info:
        producer.send_many(topic, [b"ok", b"v" * 600, b"ok"])
    assert "600" in str(info.value)
    metadata = producer.send_many(topic, [b"ok", b"v" * 400]).get(GET_TIMEOUT)
    assert list(metadata.offsets) == [0, 1] and not metadata.errors
