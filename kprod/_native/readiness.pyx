# cython: language_level=3
"""RecordAccumulator's scans of the partition queues, natively: ``ready``'s look at
every queue (Java's ``RecordAccumulator.ready``), ``drain``'s round-robin walk of a
leader's partitions (``RecordAccumulator.drain``) and the queue lengths adaptive
partitioning weighs (``updatePartitionLoadStats``, KIP-794). The I/O thread runs them once or
twice per loop, two loops per Produce request at paced rates, and as Python bytecode
on the cold caches of a thread that sleeps between loops they cost more than the rest
of the drain.

GIL: held throughout (every step reads Python objects: queues, batches, metadata).
"""
cimport cython

__all__ = ["scan_ready", "drain_heads", "queue_lengths", "refresh_load_stats"]


@cython.boundscheck(True)
@cython.wraparound(False)
cdef inline object leader_of(object tp, object leader_for, dict topics):
    """``leader_for(tp)``, or with ``topics`` (the metadata snapshot's TopicInfo by
    name) its lookup in place: Metadata.leader_for's rule, without a Python call."""
    cdef object info, leader
    if topics is None:
        return leader_for(tp)
    info = topics.get(tp[0])
    if info is None:
        return None
    leader = info.leaders.get(tp[1], -1)
    return leader if leader >= 0 else None


def scan_ready(dict queues, leader_for, double now, double linger_ms, bint forced,
               dict by_leader=None, dict topics=None):
    """``(ready_nodes, next_ready_ms, unknown_leader_topics)`` of the queues (a dict
    ``(topic, partition) -> PartitionQueue``); ``leader_for(tp)`` is the partition's
    leader or None. ``topics``: the metadata snapshot's topics (name -> TopicInfo),
    looked up instead of calling ``leader_for`` (Metadata.leader_for's rule).

    A queue's head batch makes its leader ready when it is sendable (full, a later
    batch queued behind it, closed, lingered ``linger_ms``, or ``forced``) and not
    backing off (a retry within its ``backoff_ms``); otherwise it adds the time until
    it will be to ``next_ready_ms``. Muted queues and queues of leaders already ready
    are skipped.

    ``by_leader``: filled (when something is ready) with each ready leader's
    partitions, every queue of the dict in its order, empty or not (what the drain
    walks round-robin)."""
    cdef set ready_nodes = set()
    cdef set unknown = set()
    cdef double next_ready_ms = float("inf")
    cdef double waited, time_to_wait, backoff
    cdef bint backing_off, full
    cdef list leaders = []            # leader per queue scanned (None: not looked up)
    cdef Py_ssize_t i
    cdef object tp, q, batches, head, leader, builder
    for tp, q in queues.items():
        batches = q.batches
        if not batches:
            leaders.append(None)
            continue
        leader = leader_of(tp, leader_for, topics)
        leaders.append(leader)
        if leader is None:
            unknown.add(tp[0])
            continue
        if leader in ready_nodes or q.muted:
            continue
        head = batches[0]
        waited = now - <double>head.last_attempt_ms
        backoff = head.backoff_ms
        backing_off = head.attempts > 0 and waited < backoff
        time_to_wait = backoff if backing_off else linger_ms
        full = len(batches) > 1 or head.payload is not None
        if not full:
            builder = head.builder
            full = builder is not None and builder.is_full
        if (full or waited >= time_to_wait or forced) and not backing_off:
            ready_nodes.add(leader)
        else:
            waited = time_to_wait - waited
            if waited < 0:
                waited = 0
            if waited < next_ready_ms:
                next_ready_ms = waited
    if by_leader is not None and ready_nodes:
        i = 0
        for tp in queues:      # unchanged: the accumulator replaces it (copy-on-write)
            leader = leaders[i] if i < len(leaders) else None
            i += 1
            if leader is None:
                leader = leader_of(tp, leader_for, topics)
            if leader in ready_nodes:
                partitions = by_leader.get(leader)
                if partitions is None:
                    by_leader[leader] = [tp]
                else:
                    (<list>partitions).append(tp)
    return ready_nodes, next_ready_ms, unknown


def drain_heads(object partitions, dict queues, Py_ssize_t start, Py_ssize_t max_size,
                double now, object may_drain):
    """``(batches, next_start)``: the head batches of ``partitions`` (their
    queues in ``queues``), walked round-robin from index ``start``, at most
    ``max_size`` bytes of them (always at least one). A queue is skipped when it is
    missing, muted or empty, its head is backing off (a retry within its
    ``backoff_ms``) or ``may_drain(head)`` says no (idempotence, transactions). Each
    head is popped under its queue's lock and closed after it (compression and CRC
    outside the lock, as Java does). ``next_start``: where the next drain of this
    leader starts (the partition that did not fit, else ``start + 1``)."""
    cdef Py_ssize_t n = len(partitions)
    cdef Py_ssize_t i, index, size = 0, estimate
    cdef list taken = []
    cdef object q, batches, head, lock, payload
    if n == 0:
        return taken, 0
    start %= n
    for i in range(n):
        index = (start + i) % n
        q = queues.get(partitions[index])
        # An empty queue is skipped without its lock (a GIL-atomic read): a batch
        # queued just after this look is left for the next drain, as one queued just
        # after the locked look would be.
        if q is None or q.muted or not q.batches:
            continue
        lock = q.lock
        lock.acquire()
        try:
            batches = q.batches
            if not batches:
                continue
            head = batches[0]
            if head.attempts > 0 and now - <double>head.last_attempt_ms < head.backoff_ms:
                continue
            payload = head.payload
            estimate = len(payload) if payload is not None \
                else head.builder.estimated_size_in_bytes
            if taken and size + estimate > max_size:
                return taken, index
            if not may_drain(head):
                continue
            batches.popleft()
        finally:
            lock.release()
        size += len(head.close())
        taken.append(head)
    return taken, (start + 1) % n


def queue_lengths(dict queues, list keys):
    """``len(queues[tp].batches)`` per ``tp`` of ``keys``, 0 without a queue: the queue
    sizes adaptive partitioning weighs (KIP-794), every loop the queues changed."""
    return _queue_lengths(queues, keys)


cdef list _queue_lengths(dict queues, list keys):
    cdef list sizes = []
    cdef object q
    for tp in keys:
        q = queues.get(tp)
        sizes.append(len(q.batches) if q is not None else 0)
    return sizes


def refresh_load_stats(dict queues, dict states, dict topics, dict cache,
                       object unavailable, object make_entry, object update_weights):
    """For each topic with a sticky state (``states``: topic -> StickyPartitionState)
    and metadata (``topics``: the snapshot's TopicInfo by name), give its state new
    partition weights when one of its usable partitions' queue lengths changed.
    ``cache`` holds each topic's entry (usable partitions, their keys, the sizes last
    weighed); ``make_entry(topic, info, state, unavailable)`` makes one when the metadata, the
    state or the unavailable nodes changed; ``update_weights(state, partitions, sizes,
    num_partitions)`` (PartitionChooser.update_load_stats) sets the weights."""
    cdef list sizes
    # A copy: make_entry is Python, so caller threads may add states meanwhile.
    for topic, state in list(states.items()):
        info = topics.get(topic)
        if info is None:
            continue
        entry = cache.get(topic)
        if entry is None or entry.info is not info or entry.state is not state \
                or entry.unavailable != unavailable:
            entry = make_entry(topic, info, state, unavailable)
        sizes = _queue_lengths(queues, entry.keys)
        if sizes == entry.queue_sizes:
            continue
        entry.queue_sizes = sizes
        update_weights(state, entry.partitions, sizes, info.num_partitions)
