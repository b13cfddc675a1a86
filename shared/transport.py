"""The HTTP transports of the Azure clients: requests' environment settings read once per origin.

Who uses it: shared.storage and shared.queues, for every Table and Queue client they build;
shared.azureml.gateway, one transport for all of a process's MLClients (one connection pool).

requests reads the proxy variables (scanning the whole environment, twice) and the CA bundle variables
on every request; with 50 pushes in parallel that was about a third of a push's CPU (cProfile of the
bench's push round). A running process's environment does not change (an app setting change restarts
the Functions host), so the same answer is kept per origin: what requests decides is unchanged.
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
        """requests.Session's own, with the environment's part remembered per origin."""
        if not self.trust_env or url is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        proxies = dict(proxies or {})
        parts = urlsplit(url if isinstance(url, str) else url.decode())
        for key, value in _environ_proxies(f"{parts.scheme}://{parts.netloc}", proxies.get("no_proxy")):
            proxies.setdefault(key, value)
        if verify is True or verify is None:
            verify = _ca_bundle() or verify
        return {  # the stubs' TypedDict, built as requests builds it
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


@lru_cache(maxsize=64)
def _environ_proxies(origin: str, no_proxy: str | None) -> tuple[tuple[str, str], ...]:
    return tuple(get_environ_proxies(origin, no_proxy=no_proxy).items())


@lru_cache(maxsize=1)
def _ca_bundle() -> str | None:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


def storage_transport() -> RequestsTransport:
    """A transport of its own for one Storage service client (it closes its session with the client)."""
    return RequestsTransport(session=EnvironmentOnceSession(), session_owner=True)


@cache
def shared_transport() -> RequestsTransport:
    """One transport for every MLClient of the process: their ARM calls share a pool of connections,
    and a client closing does not close the session the others use."""
    return RequestsTransport(session=EnvironmentOnceSession(), session_owner=False)
