"""The launcher, the world file and the smoke script ("done when" of issue 3)."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import httpx
import pytest

from devstack.emulator import smoke
from devstack.emulator.launch import RunningEmulator, start_emulator
from devstack.emulator.world import load_world

WORLDS = Path(__file__).resolve().parents[2] / "devstack" / "worlds"


def test_seed_world_has_the_pinned_layout() -> None:
    world = load_world(WORLDS / "seed.yaml")
    regions = {w.name: (w.subscription[:1], w.resource_group, w.region) for w in world.workspaces}
    assert regions == {
        "workspace1": ("1", "rg-tenants", "eastus"),
        "workspace2": ("1", "rg-tenants", "eastus"),
        "workspace3": ("1", "rg-tenants", "westeurope"),
        "workspace5": ("1", "rg-tenants", "westus"),
        "workspace4": ("2", "rg-woodgrove", "westeurope"),
    }
    [registry] = world.registries
    assert (registry.name, registry.resource_group, registry.regions) == (
        "regsync-registry",
        "rg-registry",
        ("eastus", "westeurope"),
    )
    assert world.event_subscriptions == []


def test_env_file_points_the_sdk_at_the_emulator(emulator: RunningEmulator) -> None:
    env = emulator.env
    assert env["ARM_CLOUD_METADATA_URL"] == f"{emulator.base_url}/metadata/endpoints"
    assert env["REGISTRY_DISCOVERY_ENDPOINT_URL"] == f"{emulator.base_url}/"
    assert Path(env["REQUESTS_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert env["AZUREML_EMULATOR_URL"] == emulator.base_url


def test_private_key_and_env_file_are_owner_only(emulator: RunningEmulator) -> None:
    """Issue 9: the TLS private key (and emulator.env, like every env file of the stack) is 0600."""
    modes = {
        name: stat.S_IMODE((emulator.state_dir / name).stat().st_mode) for name in ("key.pem", "emulator.env")
    }
    assert modes == {"key.pem": 0o600, "emulator.env": 0o600}


def test_example_world_with_subscriptions_starts_and_stops(tmp_path: Path) -> None:
    with start_emulator(WORLDS / "two-tenants.yaml", tmp_path) as running:
        verify = ssl.create_default_context(cafile=running.env["REQUESTS_CA_BUNDLE"])
        with httpx.Client(base_url=running.base_url, verify=verify) as client:
            subs = client.get("/_admin/eventSubscriptions").json()["value"]
            dump = client.get("/_admin/dump").json()
    assert {s["name"] for s in subs} == {"contoso-models", "fabrikam-writes"}
    assert set(dump["workspaces"]) == {"contoso-ml", "fabrikam-ml"}
    assert running.process.poll() is not None  # stopped on leaving the block


def test_bad_world_fails_before_ready(tmp_path: Path) -> None:
    world = tmp_path / "bad.yaml"
    world.write_text("registries:\n  - {name: r, subscription: s, resourceGroup: g, regions: []}\n")
    with pytest.raises(RuntimeError, match="needs at least one region"):
        start_emulator(world, tmp_path / "state")


def test_smoke_script_succeeds(emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke.main(["--env-file", str(emulator.state_dir / "emulator.env")]) == 0
    out = capsys.readouterr().out
    assert "shared to regsync-registry" in out
    assert "batch deployment" in out
    assert "every call succeeded" in out
