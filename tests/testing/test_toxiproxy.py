"""kprod.testing.toxiproxy against a real toxiproxy server (installed with go install on
first use) in front of a local echo server: the client's calls do what the fault tests
rely on. No Kafka needed."""
from __future__ import annotations

import socket
import threading

import pytest

from kprod.testing.toxiproxy import Toxiproxy, ToxiproxyError, ToxiproxyServer, free_ports


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Toxiproxy:
    with ToxiproxyServer(tmp_path_factory.mktemp("toxiproxy") / "log") as api:
        yield api


@pytest.fixture
def echo():
    """A TCP echo server on 127.0.0.1; yields its address."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn):
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def proxy(api, echo, request):
    port = free_ports(1)[0]
    p = api.create_proxy(request.node.name[:60], f"127.0.0.1:{port}", echo)
    yield p
    api.delete_proxy(p.name)


def _connect(proxy) -> socket.socket:
    host, port = proxy.listen.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def test_proxy_passes_data_and_lists_itself(api, proxy):
    with _connect(proxy) as s:
        s.sendall(b"hello")
        assert _recv_exactly(s, 5) == b"hello"
    assert api.proxies()[proxy.name]["upstream"] == proxy.upstream
    assert proxy.enabled


def test_disabled_proxy_refuses_connections_until_enabled(proxy):
    proxy.disable()
    assert not proxy.enabled
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy)
    proxy.enable()
    with _connect(proxy) as s:
        s.sendall(b"back")
        assert _recv_exactly(s, 4) == b"back"


def test_black_hole_drops_data_and_keeps_the_connection(proxy):
    with _connect(proxy) as s:
        proxy.black_hole()
        s.sendall(b"lost")
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)
    assert [t["type"] for t in proxy.toxics()] == ["timeout"]


def test_limit_data_closes_after_the_limit(proxy):
    proxy.limit_data(10, stream="downstream")
    with _connect(proxy) as s:
        s.sendall(b"x" * 100)
        assert _recv_exactly(s, 100) == b"x" * 10      # then EOF


def test_reset_peer_resets_the_connection(proxy):
    proxy.reset_peer(0, stream="upstream")
    with _connect(proxy) as s:
        s.sendall(b"boom")
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            s.recv(10)
            s.sendall(b"again")
            s.recv(10)


def test_slicer_latency_bandwidth_keep_the_bytes(proxy):
    proxy.slicer(3, 1, delay_us=10)
    proxy.latency(5, 2)
    proxy.bandwidth(1000)
    payload = bytes(range(256)) * 40
    with _connect(proxy) as s:
        s.sendall(payload)
        assert _recv_exactly(s, len(payload)) == payload
    assert sorted(t["type"] for t in proxy.toxics()) == ["bandwidth", "latency", "slicer"]
    proxy.remove_all_toxics()
    assert proxy.toxics() == []


def test_api_errors_are_typed(api, proxy):
    with pytest.raises(ToxiproxyError, match="409|exists"):
        api.create_proxy(proxy.name, "127.0.0.1:0", proxy.upstream)
    with pytest.raises(ToxiproxyError, match="404|not found"):
        proxy.remove_toxic("no-such-toxic")
    with pytest.raises(ValueError, match="stream"):
        proxy.add_toxic("latency", stream="sideways", latency=1)
