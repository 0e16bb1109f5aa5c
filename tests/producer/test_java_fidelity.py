"""Code written the Java way means what it means in Java, or fails loudly: the
ProducerRecord constructors, send(record, callback) with a callback object, and a
transaction that a rejected send() makes abortable. Read back with confluent-kafka."""
from __future__ import annotations

import copy
import pickle
import threading
import uuid

import pytest

from kprod.errors import (
    IllegalStateError, RecordTooLargeError, TransactionAbortRequiredError,
)
from kprod.producer import Producer
from kprod.record import ProducerRecord, RecordMetadata
from kprod.serialization import StringSerializer

from ..transactions.support import read_committed
from .readback import read_all

GET_TIMEOUT = 60


# -- ProducerRecord: Java's positional forms -------------------------------------------

def test_topic_value():
    record = ProducerRecord("t", "v")
    assert (record.topic, record.key, record.value) == ("t", None, "v")


def test_topic_key_value_is_java_order():
    record = ProducerRecord("CustomerCountry", "Precision Products", "France")
    assert record.key == "Precision Products"
    assert record.value == "France"


def test_topic_partition_key_value():
    record = ProducerRecord("t", 3, b"k", b"v")
    assert (record.partition, record.key, record.value, record.timestamp) == (3, b"k", b"v", None)


def test_topic_partition_timestamp_key_value_headers():
    headers = [("h", b"1")]
    record = ProducerRecord("t", None, 1700000000000, b"k", b"v", headers)
    assert record.partition is None and record.timestamp == 1700000000000
    assert (record.key, record.value, record.headers) == (b"k", b"v", headers)


def test_keywords_work_and_complete_a_positional_form():
    record = ProducerRecord("t", value=b"v", key=b"k", partition=1, timestamp=5,
                            headers=[("a", None)])
    assert record == ProducerRecord("t", 1, 5, b"k", b"v", [("a", None)])
    assert ProducerRecord("t", b"k", b"v", headers=[("a", None)]).headers == [("a", None)]


@pytest.mark.parametrize("args", [
    ("t", b"value", b"key", 3),                   # kprod's old (topic, value, key, partition)
    ("t", 1, b"not-a-timestamp", b"k", b"v"),      # Java's (topic, partition, key, value, headers)
    ("t", "1", b"k", b"v"),                        # a partition that is not an int
    ("t", True, b"k", b"v"),                       # bool is not a partition
])
def test_a_form_that_cannot_mean_what_java_means_is_a_type_error(args):
    with pytest.raises(TypeError, match="use keywords"):
        ProducerRecord(*args)


def test_a_field_given_twice_is_a_type_error():
    with pytest.raises(TypeError, match="'value' both positionally and as a keyword"):
        ProducerRecord("t", b"v", value=b"w")
    with pytest.raises(TypeError, match="at most 6 positional"):
        ProducerRecord("t", 0, 0, b"k", b"v", [], "extra")


def test_copy_pickle_and_replace_keep_the_fields():
    record = ProducerRecord("t", 2, 7, b"k", b"v", [("h", b"x")])
    assert copy.copy(record) == record
    assert pickle.loads(pickle.dumps(record)) == record
    moved = record._replace(partition=0)
    assert (moved.partition, moved.key, moved.value) == (0, b"k", b"v")
    assert "key=b'k'" in repr(record) and "value=b'v'" in repr(record)


def test_record_metadata_repr_is_topic_partition_at_offset():
    md = RecordMetadata("orders", 2, 41, 1700000000000, 3, 10)
    assert repr(md).startswith("RecordMetadata(orders-2@41")


# -- send(record, callback) --------------------------------------------------------------

class _JavaStyleCallback:
    def __init__(self) -> None:
        self.calls = []
        self.done = threading.Event()

    def on_completion(self, metadata, exception):
        self.calls.append((metadata, exception))
        self.done.set()


class _CamelCaseCallback(_JavaStyleCallback):
    on_completion = None    # only Java's spelling below

    def onCompletion(self, metadata, exception):   # noqa: N802 (Java's name)
        _JavaStyleCallback.on_completion(self, metadata, exception)


@pytest.mark.parametrize("callback_class", [_JavaStyleCallback, _CamelCaseCallback])
def test_callback_object_runs_with_the_metadata(make_topic, make_producer, bootstrap,
                                                callback_class):
    topic = make_topic()
    producer = make_producer({"key.serializer": StringSerializer(),
                              "value.serializer": StringSerializer()})
    callback = callback_class()
    future = producer.send(ProducerRecord(topic, "Precision Products", "France"), callback)
    metadata = future.get(GET_TIMEOUT)
    assert callback.done.wait(GET_TIMEOUT)
    assert callback.calls == [(metadata, None)]
    [message] = read_all(bootstrap, topic, expected=1)
    assert (message.key, message.value) == (b"Precision Products", b"France")


def test_callback_object_as_keyword_on_the_fast_path(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()
    producer.send(topic, b"warm").get(GET_TIMEOUT)     # metadata known, batch open path
    callbacks = [_JavaStyleCallback() for _ in range(20)]
    futures = [producer.send(topic, b"v%d" % i, callback=cb) for i, cb in enumerate(callbacks)]
    producer.flush(GET_TIMEOUT)
    for future, cb in zip(futures, callbacks):
        assert cb.calls == [(future.get(1), None)]


@pytest.mark.parametrize("bad", [42, "callback", object()])
def test_a_callback_that_cannot_be_called_is_a_type_error_before_queueing(
        make_topic, make_producer, bootstrap, bad):
    topic = make_topic()
    producer = make_producer()
    producer.send(topic, b"first").get(GET_TIMEOUT)
    with pytest.raises(TypeError, match="callback"):
        producer.send(ProducerRecord(topic, b"rejected"), bad)
    with pytest.raises(TypeError, match="callback"):
        producer.send(topic, b"rejected", callback=bad)
    producer.send(topic, b"last").get(GET_TIMEOUT)
    assert [m.value for m in read_all(bootstrap, topic, expected=2)] == [b"first", b"last"]


def test_send_record_with_extra_fields_is_a_type_error(make_producer):
    producer = make_producer()
    with pytest.raises(TypeError, match="ProducerRecord"):
        producer.send(ProducerRecord("t", b"v"), None, b"key")
    with pytest.raises(TypeError, match="twice"):
        producer.send(ProducerRecord("t", b"v"), print, callback=print)


# -- transactions: a rejected send() makes the transaction abortable --------------------

def test_rejected_send_makes_the_transaction_abortable(kafka, make_topic):
    topic = make_topic()
    bootstrap = kafka.bootstrap_servers
    with Producer({"bootstrap.servers": bootstrap, "transactional.id": f"t-{uuid.uuid4().hex}",
                   "max.request.size": 10000, "max.block.ms": 30000}) as producer:
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.send(topic, b"kept-only-if-committed")
        with pytest.raises(RecordTooLargeError) as too_large:
            producer.send(topic, b"x" * 20000)
        with pytest.raises(IllegalStateError):         # no more sends in this transaction
            producer.send(topic, b"after the error")
        with pytest.raises(TransactionAbortRequiredError, match="RecordTooLargeError") as info:
            producer.commit_transaction(30)
        assert info.value.__cause__ is too_large.value
        producer.abort_transaction(30)
        producer.begin_transaction()                   # recovered
        producer.send(topic, b"committed")
        producer.commit_transaction(30)
    assert [r[4] for r in read_committed(bootstrap, [topic])] == [b"committed"]


def test_transactional_calls_out_of_order_say_what_to_call(kafka):
    with Producer({"bootstrap.servers": kafka.bootstrap_servers,
                   "transactional.id": f"t-{uuid.uuid4().hex}"}) as producer:
        with pytest.raises(IllegalStateError, match=r"call init_transactions\(\) first"):
            producer.commit_transaction(1)
        with pytest.raises(IllegalStateError, match=r"call init_transactions\(\) first"):
            producer.abort_transaction(1)
        producer.init_transactions(30)
        with pytest.raises(IllegalStateError, match=r"begin_transaction\(\) first"):
            producer.commit_transaction(1)
