"""Session fixtures shared by every test package: a real Azurite on free loopback ports and one AzureML
emulator on the seed world, with the SDK's environment pointed at it for the session."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@functools.cache
def registered_functions() -> dict[str, Any]:
    """The app's functions by name. azure-functions refuses a second `get_functions()` on one app, as the
    real worker indexes it once; every test module shares this one index."""
    import function_app

    return {function.get_function_name(): function for function in function_app.app.get_functions()}
