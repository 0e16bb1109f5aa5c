__all__ = ["set_native_thread_name"]


def set_native_thread_name(name: str) -> bool: ...
