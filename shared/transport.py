"""The HTTP transports of the Azure clients: requests' scan of the environment, once per origin.

Who uses it: shared.storage and shared.queues, for every Table and Queue client they build;
shared.azureml.gateway, one transport for all of a process's MLClients (one connection pool).

requests reads the proxy variables (scanning the whole environment, twice) and the CA bundle variables
on every request; with 50 pushes in parallel that was about a third of a push's CPU (cProfile of the
bench's push round). The scan's answer is kept per origin and per value of the proxy variables requests
uses for http(s) (a few lookups): what requests decides is unchanged, and a test that points the
environment at another proxy or CA bundle is seen at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests import sessions
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.util.retry import Retry

# Connections kept per host: one per push worker at once (the bench and the host run up to 50 side by
# side; requests' default of 10 closes the rest after each call).
POOL_CONNECTIONS = 64
# What requests' choice of a proxy for an http(s) URL depends on (urllib reads both cases).
PROXY_VARIABLES = tuple(
    name for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy") for name in (base, base.upper())
)
merge_setting: Callable[[Any, Any], Any] = sessions.merge_setting  # requests' own merge (untyped)


class EnvironmentOnceSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        # As azure-core mounts its own sessions: its retry policy retries, urllib3 does not.
        adapter = HTTPAdapter(
            pool_maxsize=POOL_CONNECTIONS,
            max_retries=Retry(total=False, redirect=False, raise_on_status=False),
        )
        for scheme in ("http://", "https://"):
            self.mount(scheme, adapter)

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> sessions._Settings:
        """requests.Session's own, with the scan for proxies remembered per origin and proxy settings."""
        if not self.trust_env or url is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        proxies = dict(proxies or {})
        parts = urlsplit(url if isinstance(url, str) else url.decode())
        settings = tuple(os.environ.get(name) for name in PROXY_VARIABLES)
        origin = f"{parts.scheme}://{parts.netloc}"
        for key, value in _environ_proxies(origin, proxies.get("no_proxy"), settings):
            proxies.setdefault(key, value)
        if verify is True or verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {  # the stubs' TypedDict, built as requests builds it
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


@lru_cache(maxsize=64)
def _environ_proxies(
    origin: str, no_proxy: str | None, settings: tuple[str | None, ...]
) -> tuple[tuple[str, str], ...]:
    """requests' scan for `origin`; `settings` (the proxy variables' values) only keys the cache."""
    return tuple(get_environ_proxies(origin, no_proxy=no_proxy).items())


def storage_transport() -> RequestsTransport:
    """A transport of its own for one Storage service client (it closes its session with the client)."""
    return RequestsTransport(session=EnvironmentOnceSession(), session_owner=True)


@cache
def shared_transport() -> RequestsTransport:
    """One transport for every MLClient of the process: their ARM calls share a pool of connections,
    and a client closing does not close the session the others use."""
    return RequestsTransport(session=EnvironmentOnceSession(), session_owner=False)
