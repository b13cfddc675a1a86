"""Session fixtures shared by every test package: a real Azurite on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.azurite import RunningAzurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[RunningAzurite]:
    """One Azurite for the session; tests isolate themselves with unique table and queue prefixes."""
    with start_azurite() as running:
        yield running


@pytest.fixture(scope="session")
def storage_connection_string(azurite: RunningAzurite) -> str:
    return azurite.connection_string
