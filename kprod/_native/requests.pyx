# cython: language_level=3
"""The I/O thread's per-request holders: a request on a connection
(:class:`InFlightRequest`) and its outcome on the way to the Sender
(:class:`ClientResponse`).

Native because one of each is made for every request, on a thread whose caches are
cold at every wakeup: a Python ``__init__`` is a frame and an attribute store per
field, a native constructor neither. The classes hold only Python objects and plain
numbers; every field keeps its Python name and stays readable and writable (tests and
the fake network client make and inspect them).

GIL: held throughout (every method touches Python objects).
"""

__all__ = ["InFlightRequest", "ClientResponse"]


cdef class InFlightRequest:
    """A request written (or being written) to a connection, waiting for its answer
    (Java's ``NetworkClient.InFlightRequest``)."""

    cdef public int correlation_id
    cdef public str api
    cdef public int version
    cdef public double sent_ms
    cdef public object handler            # handler(response, error), once
    cdef public bint expect_response      # False for acks=0 Produce: done once written
    cdef public bint fully_written

    def __init__(self, int correlation_id, str api, int version, double sent_ms,
                 handler, bint expect_response):
        self.correlation_id = correlation_id
        self.api = api
        self.version = version
        self.sent_ms = sent_ms
        self.handler = handler
        self.expect_response = expect_response
        self.fully_written = False


cdef class ClientResponse:
    """A completed request: the response body, or the error that ended it. The
    connection calls :meth:`arrived` (inside its read, close or timeout); the network
    client's poll returns the response and the Sender calls :meth:`complete`, so
    handlers never run inside a connection's I/O."""

    cdef public object handler
    cdef public object body
    cdef public object error
    cdef list completed                   # the network client's list of finished ones
    cdef public int node_id               # where it went, and at which version (KIP-219)
    cdef public str api
    cdef public int version

    def __init__(self, handler, list completed, int node_id=-1, str api="",
                 int version=-1):
        self.handler = handler
        self.body = None
        self.error = None
        self.completed = completed
        self.node_id = node_id
        self.api = api
        self.version = version

    def arrived(self, body, error):
        """The connection's handler: record the outcome for the next poll to return."""
        self.body = body
        self.error = error
        self.completed.append(self)

    def complete(self):
        self.handler(self.body, self.error)
