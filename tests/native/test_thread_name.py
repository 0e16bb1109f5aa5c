"""The I/O thread's operating-system name: what top -H, ps -L and perf list."""
import sys
import threading

import pytest

from kprod._native.thread_name import set_native_thread_name

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="prctl(PR_SET_NAME) and /proc are Linux's")


def _os_name(tid: int) -> str:
    with open(f"/proc/self/task/{tid}/comm") as f:
        return f.read().strip()


@linux_only
def test_a_thread_names_itself_in_the_os_and_long_names_keep_15_bytes():
    seen = {}

    def run():
        tid = threading.get_native_id()
        seen["short"] = (set_native_thread_name("kprod-test"), _os_name(tid))
        seen["long"] = (set_native_thread_name("kprod-a-very-long-name"), _os_name(tid))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == {"short": (True, "kprod-test"), "long": (True, "kprod-a-very-lo")}
    assert _os_name(threading.get_native_id()) != "kprod-test"   # only the caller's own


@linux_only
def test_the_producer_io_thread_is_named_kprod_sender(kafka):
    from kprod import Producer
    kafka.create_topic("thread-name", 1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    try:
        producer.send("thread-name", b"v").get(30)
        tid = producer._sender.thread.native_id
        assert tid is not None and _os_name(tid) == "kprod-sender"
    finally:
        producer.close()
