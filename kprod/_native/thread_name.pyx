# cython: language_level=3
"""The operating system's name of the calling thread, so tools that list threads
(``top -H``, ``ps -L``, perf, py-spy) show kprod's I/O thread as ``kprod-sender``
rather than ``python``. (Python sets it from ``threading.Thread(name=)`` itself only
from 3.14.)

Linux only (prctl PR_SET_NAME, which keeps 15 bytes); elsewhere a no-op that says so.
"""

cdef extern from *:
    """
    #if defined(__linux__)
    #include <sys/prctl.h>
    static int kprod_set_thread_name(const char *name) {
        return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
    }
    #else
    static int kprod_set_thread_name(const char *name) { (void)name; return -1; }
    #endif
    """
    int kprod_set_thread_name(const char *name) nogil

__all__ = ["set_native_thread_name"]


def set_native_thread_name(name: str) -> bool:
    """Name the calling OS thread (the first 15 bytes of ``name``'s UTF-8); False where
    the platform has no such call or it failed."""
    cdef bytes encoded = name.encode("utf-8")[:15]
    return kprod_set_thread_name(encoded) == 0
