from typing import Any, Callable, List, Optional

__all__ = ["InFlightRequest", "ClientResponse"]

_ResponseHandler = Callable[[Optional[Any], Optional[BaseException]], None]


class InFlightRequest:
    correlation_id: int
    api: str
    version: int
    sent_ms: float
    handler: _ResponseHandler
    expect_response: bool
    fully_written: bool

    def __init__(self, correlation_id: int, api: str, version: int, sent_ms: float,
                 handler: _ResponseHandler, expect_response: bool) -> None: ...


class ClientResponse:
    handler: _ResponseHandler
    body: Optional[Any]
    error: Optional[BaseException]
    node_id: int
    api: str
    version: int

    def __init__(self, handler: _ResponseHandler, completed: List["ClientResponse"],
                 node_id: int = ..., api: str = ..., version: int = ...) -> None: ...
    def arrived(self, body: Optional[Any], error: Optional[BaseException]) -> None: ...
    def complete(self) -> None: ...
