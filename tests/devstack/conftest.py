"""Fixtures for the local-host tests: run `devstack.host` in-process (uvicorn in a thread) on a free port."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from devstack.azurite import RunningAzurite, free_port
from devstack.host import HostConfig, HostKeys, LocalHost
from tests.devstack import sample_app

KEYS = HostKeys(function="test-function-key", master="test-master-key", eventgrid="test-eventgrid-key")
NEVER = "0 0 0 1 1 *"  # once a year: timers stay quiet in tests that are not about timers


@dataclass
class HostUnderTest:
    host: LocalHost
    base_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)


@contextmanager
def serve(host: LocalHost, *, deadline_seconds: float = 30.0) -> Iterator[HostUnderTest]:
    """Serve `host` with uvicorn in a thread until the block exits; its lifespan runs the workers."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(host.asgi, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    end = time.monotonic() + deadline_seconds
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the local host failed to start (see the log above)")
        if time.monotonic() > end:
            raise RuntimeError(f"the local host did not start within {deadline_seconds} s")
        time.sleep(0.02)  # polling readiness with a deadline
    try:
        yield HostUnderTest(host, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(60)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture
def start_sample_host(
    azurite: RunningAzurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., HostUnderTest]]:
    """Start the sample app with given settings/host.json; stopped at the end of the test."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    stack = ExitStack()

    def start(
        *, settings: Mapping[str, str] | None = None, config: HostConfig | None = None
    ) -> HostUnderTest:
        values = {
            "AzureWebJobsStorage": azurite.connection_string,
            "SAMPLE_QUEUE": unique("sample-"),
            "SAMPLE_TIMER_SCHEDULE": NEVER,
            **(settings or {}),
        }
        host = LocalHost(sample_app.app, settings=values, config=config, keys=KEYS, poll_interval=0.1)
        return stack.enter_context(serve(host))

    with stack:
        yield start
