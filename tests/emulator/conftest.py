"""Fixtures of the emulator tests: one emulator on the seed world per session, the SDK pointed at it.

The emulator runs as a real subprocess (`launch.start_emulator`); its emulator.env is applied to
os.environ for the session and restored afterwards. `speed=1000` turns Event Grid's 10 s first retry
into 10 ms.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.emulator.launch import EmulatorAdmin, RunningEmulator

SEED = Path(__file__).resolve().parents[2] / "devstack" / "worlds" / "seed.yaml"
SUB1 = "11111111-1111-1111-1111-111111111111"
SUB2 = "22222222-2222-2222-2222-222222222222"
REGISTRY = "regsync-registry"
API_VERSION = "2024-04-01"
WORKSPACES = {
    "workspace1": (SUB1, "rg-tenants"),
    "workspace2": (SUB1, "rg-tenants"),
    "workspace3": (SUB1, "rg-tenants"),
    "workspace5": (SUB1, "rg-tenants"),
    "workspace4": (SUB2, "rg-woodgrove"),
}


class StaticCredential:
    """A credential whose token the emulator accepts; azure-identity is never involved."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("test-token", int(time.time()) + 3600)


@pytest.fixture(scope="session")
def admin(emulator: RunningEmulator) -> Iterator[EmulatorAdmin]:
    client = EmulatorAdmin(emulator.base_url, emulator.env["REQUESTS_CA_BUNDLE"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def ml(emulator: RunningEmulator) -> Callable[[str], Any]:
    """`ml("workspace1")` or `ml("registry")`: a cached MLClient on the emulator."""
    from azure.ai.ml import MLClient

    clients: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in clients:
            if name == "registry":
                clients[name] = MLClient(StaticCredential(), registry_name=REGISTRY)
            else:
                sub, rg = WORKSPACES[name]
                clients[name] = MLClient(StaticCredential(), sub, rg, name)
        return clients[name]

    return get


@pytest.fixture(scope="session")
def raw(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """Plain HTTPS client with a bearer token and an api-version (ARM requires one), for what the SDK
    cannot express."""
    with httpx.Client(
        base_url=emulator.base_url,
        verify=ssl.create_default_context(cafile=emulator.env["REQUESTS_CA_BUNDLE"]),
        headers={"Authorization": "Bearer test"},
        params={"api-version": API_VERSION},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def unique() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"weights")
    (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    return folder


def ws_arm_id(name: str) -> str:
    sub, rg = WORKSPACES[name]
    provider = "Microsoft.MachineLearningServices"
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}/workspaces/{name}"
