"""The I/O thread's native per-request holders (kprod._native.requests)."""
import pytest

from kprod._native.requests import ClientResponse, InFlightRequest


def test_in_flight_request_keeps_its_fields_and_starts_unwritten():
    handler = object()
    request = InFlightRequest(7, "Produce", 11, 1234.5, handler, False)
    assert (request.correlation_id, request.api, request.version, request.sent_ms,
            request.handler, request.expect_response, request.fully_written) == (
        7, "Produce", 11, 1234.5, handler, False, False)
    request.fully_written = True
    assert request.fully_written


def test_in_flight_request_rejects_a_wrongly_typed_field():
    with pytest.raises(TypeError):
        InFlightRequest(1, b"Produce", 3, 0.0, None, True)     # api must be a str
    with pytest.raises(TypeError):
        InFlightRequest("1", "Produce", 3, 0.0, None, True)    # correlation id an int


def test_client_response_is_queued_on_arrival_and_completed_by_the_caller():
    completed = []
    seen = []
    response = ClientResponse(lambda body, error: seen.append((body, error)), completed,
                              3, "Metadata", 12)
    assert (response.node_id, response.api, response.version) == (3, "Metadata", 12)
    assert response.body is None and response.error is None and not completed
    response.arrived({"answer": 1}, None)
    assert completed == [response] and response.body == {"answer": 1}
    assert seen == []                       # arrival only queues: poll's caller completes
    response.complete()
    assert seen == [({"answer": 1}, None)]


def test_client_response_carries_an_error_and_has_defaults():
    completed = []
    errors = []
    response = ClientResponse(lambda body, error: errors.append(error), completed)
    assert (response.node_id, response.api, response.version) == (-1, "", -1)
    failure = ConnectionError("gone")
    response.arrived(None, failure)
    response.complete()
    assert errors == [failure] and completed == [response]
