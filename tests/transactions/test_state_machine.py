"""TransactionManager state machine with scripted coordinator answers (no broker, no sleeps)."""
import pytest

from kprod._internals import protocol as proto
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.protocol import types as T
from kprod._internals.transactions import (
    ABORTABLE_ERROR, FATAL_ERROR, IN_TRANSACTION, READY, TransactionManager,
)
from kprod.errors import IllegalStateError, KafkaTimeoutError, ProducerFencedError


from ..fakes import ManualClock as Clock


@pytest.fixture
def tm():
    return TransactionManager("txn-1", 60000, IdempotenceState(), 100, Clock())


def answer(tm, api, response, incomplete=False):
    """Take the next request (must be ``api``), check it encodes at kprod's highest
    version, and answer it with ``response`` as decoded from the wire."""
    request = tm.next_request(tm.clock(), incomplete)
    assert request is not None and request.api == api, (api, request and request.api)
    body = request.build()
    version = proto.SUPPORTED_VERSIONS[proto.API_KEYS[api]][1]
    if api == "AddPartitionsToTxn":
        version = 3     # clients use v3 and below (v4+ is broker to broker, KIP-890)
    proto.encode_request(api, version, 1, "c", body)
    _, decoded = proto.decode_response(api, version,
                                       proto.encode_response(api, version, 1, response))
    tm.on_response(request, decoded, None)
    return body


def add_partition_answer(tm, partition, error_code):
    """Answer the pending AddPartitionsToTxn for partition ("t", partition)."""
    return answer(tm, "AddPartitionsToTxn", T.AddPartitionsToTxnResponse(
        results_by_topic_v3_and_below=[T.AddPartitionsToTxnTopicResult(
            name="t", results_by_partition=[T.AddPartitionsToTxnPartitionResult(
                partition_index=partition, partition_error_code=error_code)])]))


def find_ok(key="txn-1"):
    return T.FindCoordinatorResponse(error_code=0, node_id=1, host="h", port=1, coordinators=[
        T.Coordinator(key=key, node_id=1, host="h", port=1, error_code=0, error_message=None)])


def end_txn_ok(**fields):
    return T.EndTxnResponse(error_code=0, **fields)


def init(tm):
    result = tm.init_transactions()
    body = answer(tm, "FindCoordinator", find_ok())
    assert body.key == "txn-1" and body.key_type == 1 and body.coordinator_keys == ["txn-1"]
    body = answer(tm, "InitProducerId", T.InitProducerIdResponse(error_code=0, producer_id=7,
                                                                 producer_epoch=3))
    assert body.transactional_id == "txn-1" and body.transaction_timeout_ms == 60000
    result.wait(0)
    assert tm.state == READY and tm.idem.producer_id == 7 and tm.idem.epoch == 3


def test_send_outside_a_transaction_is_a_clear_error(tm):
    with pytest.raises(IllegalStateError, match="init_transactions"):
        tm.check_send()
    with pytest.raises(IllegalStateError, match="init_transactions"):
        tm.begin_transaction()
    init(tm)
    with pytest.raises(IllegalStateError, match="begin_transaction"):
        tm.check_send()


def test_commit_adds_partitions_first_and_waits_for_batches(tm):
    init(tm)
    tm.begin_transaction()
    tm.check_send()
    assert tm.maybe_add_partition(("t", 0)) is True
    assert tm.maybe_add_partition(("t", 0)) is False
    assert not tm.may_drain(("t", 0))          # not drained before AddPartitionsToTxn
    body = add_partition_answer(tm, 0, 0)
    assert body.v3_and_below_topics == [T.AddPartitionsToTxnTopic(name="t", partitions=[0])]
    assert body.v3_and_below_producer_id == 7
    assert tm.may_drain(("t", 0))
    result = tm.begin_end(commit=True)
    assert tm.next_request(0, has_incomplete_batches=True) is None   # flush first
    body = answer(tm, "EndTxn", end_txn_ok(), incomplete=False)
    assert body.committed is True
    result.wait(0)
    assert tm.state == READY and not tm.may_drain(("t", 0))


def test_concurrent_transactions_is_retried_after_a_short_backoff(tm):
    init(tm)
    tm.begin_transaction()
    tm.maybe_add_partition(("t", 1))
    add_partition_answer(tm, 1, 51)
    assert tm.next_request(tm.clock(), False) is None       # backing off
    tm.clock.now += 25
    add_partition_answer(tm, 1, 0)
    assert tm.may_drain(("t", 1))


def test_not_coordinator_rediscovers_the_coordinator(tm):
    init(tm)
    tm.begin_transaction()
    result = tm.begin_end(commit=False)      # nothing sent: no EndTxn, the I/O thread ends it
    assert tm.next_request(0, False) is None
    result.wait(0)
    tm.begin_transaction()
    tm.maybe_add_partition(("t", 0))
    add_partition_answer(tm, 0, 16)
    tm.clock.now += 25
    answer(tm, "FindCoordinator", find_ok())
    add_partition_answer(tm, 0, 0)
    assert tm.state == IN_TRANSACTION


def test_fencing_is_fatal(tm):
    init(tm)
    tm.begin_transaction()
    tm.maybe_add_partition(("t", 0))
    add_partition_answer(tm, 0, 90)
    assert tm.state == FATAL_ERROR
    assert isinstance(tm.last_error, ProducerFencedError)
    with pytest.raises(IllegalStateError, match="fatal"):
        tm.check_send()
    with pytest.raises(IllegalStateError, match="fatal"):
        tm.begin_end(commit=False)


def test_abortable_error_requires_abort_then_producer_is_usable(tm):
    init(tm)
    tm.begin_transaction()
    tm.maybe_add_partition(("t", 0))
    add_partition_answer(tm, 0, 29)
    assert tm.state == ABORTABLE_ERROR
    with pytest.raises(IllegalStateError, match="abort"):
        tm.check_send()
    with pytest.raises(IllegalStateError, match="abort"):
        tm.begin_end(commit=True)
    result = tm.begin_end(commit=False)
    assert tm.next_request(0, False) is None         # nothing was added: no EndTxn needed
    result.wait(0)
    tm.begin_transaction()
    tm.check_send()


def test_send_offsets_goes_through_both_coordinators(tm):
    init(tm)
    tm.begin_transaction()
    result = tm.send_offsets({("in", 0): 42}, {"group_id": "g", "generation_id": 5,
                                               "member_id": "m", "group_instance_id": None})
    body = answer(tm, "AddOffsetsToTxn", T.AddOffsetsToTxnResponse(error_code=0))
    assert body.group_id == "g"
    answer(tm, "FindCoordinator", find_ok("g"))
    body = answer(tm, "TxnOffsetCommit", T.TxnOffsetCommitResponse(topics=[
        T.TxnOffsetCommitResponseTopic(name="in", partitions=[
            T.TxnOffsetCommitResponsePartition(partition_index=0, error_code=0)])]))
    assert body.generation_id == 5 and body.member_id == "m"
    assert body.topics == [T.TxnOffsetCommitRequestTopic(name="in", partitions=[
        T.TxnOffsetCommitRequestPartition(partition_index=0, committed_offset=42,
                                          committed_leader_epoch=-1, committed_metadata=None)])]
    result.wait(0)
    end = tm.begin_end(commit=True)
    answer(tm, "EndTxn", end_txn_ok())
    end.wait(0)


def test_user_wait_is_bounded_and_names_what_it_waited_for(tm):
    result = tm.init_transactions()
    with pytest.raises(KafkaTimeoutError, match="init_transactions"):
        result.wait(0.01)


def test_failed_batch_on_a_v1_coordinator_bumps_the_epoch_after_abort(tm):
    init(tm)
    tm.begin_transaction()
    tm.maybe_add_partition(("t", 0))
    add_partition_answer(tm, 0, 0)
    tm.idem.partition(("t", 0)).next_sequence = 42      # sequences in use
    tm.epoch_bump_required = True                       # as the sender marks a failed batch
    tm.abortable(RuntimeError("batch failed"))
    result = tm.begin_end(commit=False)
    answer(tm, "EndTxn", end_txn_ok())             # V1: no epoch in the answer
    assert not result.is_done                           # not done until the epoch is bumped
    body = answer(tm, "InitProducerId", T.InitProducerIdResponse(error_code=0, producer_id=7,
                                                                 producer_epoch=4))
    assert body.producer_id == 7 and body.producer_epoch == 3   # KIP-360 bump request
    result.wait(0)
    assert tm.idem.epoch == 4 and tm.idem.partitions == {}
    assert tm.state == READY


def test_v2_coordinator_epoch_from_end_txn_needs_no_extra_bump(tm):
    init(tm)
    tm.begin_transaction()
    tm.maybe_add_partition(("t", 0))
    add_partition_answer(tm, 0, 0)
    tm.epoch_bump_required = True
    tm.abortable(RuntimeError("batch failed"))
    result = tm.begin_end(commit=False)
    answer(tm, "EndTxn", end_txn_ok(producer_id=7, producer_epoch=4))
    result.wait(0)
    assert tm.idem.epoch == 4 and tm.next_request(0, False) is None


def test_transactions_v2_add_partitions_implicitly(tm):
    """KIP-890 part 2: with transaction.version >= 2 the first Produce adds the
    partition, so there is no AddPartitionsToTxn and the partition drains at once."""
    init(tm)
    tm.tv2_supported = True
    tm.begin_transaction()
    assert tm.maybe_add_partition(("t", 0)) is False     # nothing to send to the coordinator
    assert tm.may_drain(("t", 0))
    result = tm.begin_end(commit=True)
    assert tm.next_request(0, has_incomplete_batches=True) is None   # flush first
    tm.on_produce_sent()                                 # the sender wrote the batch
    body = answer(tm, "EndTxn", end_txn_ok(producer_id=7, producer_epoch=4))
    assert body.committed is True
    result.wait(0)
    assert tm.idem.epoch == 4 and not tm.may_drain(("t", 0))


def test_transactions_v2_abort_with_nothing_sent_needs_no_end_txn(tm):
    init(tm)
    tm.tv2_supported = True
    tm.begin_transaction()
    tm.maybe_add_partition(("t", 0))
    result = tm.begin_end(commit=False)                  # its records fail unsent
    assert tm.next_request(0, False) is None             # no EndTxn goes out
    result.wait(0)
    assert tm.state == READY
