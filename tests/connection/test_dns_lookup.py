"""client.dns.lookup: resolve_canonical_bootstrap_servers_only expands each bootstrap host
into the canonical names of its addresses (Java ClientUtils.parseAndValidateAddresses)."""
from __future__ import annotations

import socket

from kprod._internals.connection_settings import canonical_bootstrap
from kprod._internals.metadata import Metadata
from kprod._internals.network import NetworkClient

from .support import now_ms, settings


def test_canonical_names_of_every_address():
    expected = []
    for info in socket.getaddrinfo("localhost", 9092, 0, socket.SOCK_STREAM):
        try:
            name = socket.gethostbyaddr(info[4][0])[0]
        except OSError:
            name = info[4][0]
        entry = f"[{name}]:9092" if ":" in name else f"{name}:9092"
        if entry not in expected:
            expected.append(entry)
    assert canonical_bootstrap(["localhost:9092"]) == expected
    assert canonical_bootstrap(["127.0.0.1:9"]) == [
        f"{socket.gethostbyaddr('127.0.0.1')[0]}:9"]


def test_an_unresolvable_host_stays_for_its_connection_to_report():
    assert canonical_bootstrap(["nonexistent.invalid:9092"]) == ["nonexistent.invalid:9092"]


def test_the_network_client_uses_the_expanded_list_only_in_that_mode():
    md = Metadata(300000, 100, 300000)
    canonical = NetworkClient(
        settings(client_dns_lookup="resolve_canonical_bootstrap_servers_only"),
        ["127.0.0.1:9"], md, now_ms)
    plain = NetworkClient(settings(), ["127.0.0.1:9"], md, now_ms)
    try:
        assert [c.host for c in canonical.bootstrap] == [socket.gethostbyaddr("127.0.0.1")[0]]
        assert [c.host for c in plain.bootstrap] == ["127.0.0.1"]
    finally:
        canonical.close()
        plain.close()
