"""Session fixtures shared by every test package: a real Azurite on free loopback ports and one AzureML
emulator on the seed world, with the SDK's environment pointed at it for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.azurite import RunningAzurite, start_azurite
from devstack.emulator.launch import RunningEmulator, apply_env, restore_env, start_emulator

SEED_WORLD = Path(__file__).resolve().parents[1] / "devstack" / "worlds" / "seed.yaml"


@pytest.fixture(scope="session")
def azurite() -> Iterator[RunningAzurite]:
    """One Azurite for the session; tests isolate themselves with unique table and queue prefixes."""
    with start_azurite() as running:
        yield running


@pytest.fixture(scope="session")
def storage_connection_string(azurite: RunningAzurite) -> str:
    return azurite.connection_string


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The emulator as a real subprocess; `speed=1000` turns Event Grid's 10 s first retry into 10 ms."""
    running = start_emulator(SEED_WORLD, tmp_path_factory.mktemp("emulator"), speed=1000)
    previous = apply_env(running.env)
    try:
        yield running
    finally:
        restore_env(previous)
        running.stop()
