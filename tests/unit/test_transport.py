"""The Azure clients' session decides proxies and CA bundle exactly as requests does, scanning the
environment once per origin and value of the proxy variables."""

from __future__ import annotations

import pytest
import requests

from shared import transport
from shared.transport import EnvironmentOnceSession

URLS = (
    "https://account.table.core.windows.net/Ledger(PartitionKey='a',RowKey='b')",
    "http://127.0.0.1:10002/devstoreaccount1/Ledger",
    "https://account.queue.core.windows.net/pushes/messages",
)


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    transport._environ_proxies.cache_clear()


def test_proxies_and_ca_bundle_are_requests_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,.queue.core.windows.net")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    ours, theirs = EnvironmentOnceSession(), requests.Session()
    for url in URLS:
        assert ours.merge_environment_settings(url, {}, None, None, None) == (
            theirs.merge_environment_settings(url, {}, None, None, None)
        )
    proxied = ours.merge_environment_settings(URLS[0], {}, None, None, None)
    assert proxied["proxies"]["https"] == "http://proxy.example:3128"
    assert proxied["verify"] == "/etc/ssl/corporate.pem"
    bypassed = ours.merge_environment_settings(URLS[2], {}, None, None, None)
    assert "https" not in bypassed["proxies"]


def test_the_environment_is_scanned_once_per_origin_until_a_proxy_variable_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = EnvironmentOnceSession()
    for _ in range(3):
        session.merge_environment_settings(URLS[0], {}, None, None, None)
    assert transport._environ_proxies.cache_info().misses == 1

    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:8080")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/tmp/emulator-ca.pem")
    changed = session.merge_environment_settings(URLS[0], {}, None, None, None)
    assert changed["proxies"]["https"] == "http://other.example:8080"
    assert changed["verify"] == "/tmp/emulator-ca.pem"
