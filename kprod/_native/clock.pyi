__all__ = ["monotonic_ms"]


def monotonic_ms() -> float: ...
