"""`python -m devstack up|down` end to end, and the pid-identity check that keeps `down` exact."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devstack.emulator.launch import EmulatorAdmin
from devstack.stack import Component, StackRecord, _stop, read_stack_env
from tests.support import live_group_members

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = REPO_ROOT / "devstack" / "worlds" / "seed.yaml"
CLIENT_KEYS = {
    "AzureWebJobsStorage",
    "ARM_CLOUD_METADATA_URL",
    "REGISTRY_DISCOVERY_ENDPOINT_URL",
    "REQUESTS_CA_BUNDLE",
    "AZUREML_EMULATOR_URL",
    "REGSYNC_AZUREML_EMULATOR",
    "REGSYNC_HOST_URL",
    "REGSYNC_FUNCTION_KEY",
    "REGSYNC_MASTER_KEY",
    "REGSYNC_EVENTGRID_KEY",
}

# Every file of the stack that holds a key (issue 9): only the user may read it.
PRIVATE_FILES = (
    "stack.env",
    "azurite.json",
    "emulator/key.pem",
    "emulator/emulator.env",
    "signing-key.pem",
)


def devstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )


def test_down_leaves_a_reused_pid_alone() -> None:
    """A recorded pid now belonging to another process (here: this test) is not signalled."""
    impostor = Component("host", os.getpid(), start_time=1, cmdline=["python", "-m", "devstack.host"])
    assert not impostor.is_alive()
    assert _stop(impostor) == f"host (pid {os.getpid()}) was not running"


@pytest.mark.e2e
def test_up_then_down(tmp_path: Path) -> None:
    settings = tmp_path / "sample.settings.json"
    values = {"SAMPLE_QUEUE": "sample-e2e", "SAMPLE_TIMER_SCHEDULE": "0 0 0 1 1 *"}
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    state_dir = tmp_path / "stack"
    app_args = ["--app", "tests.devstack.sample_app:app", "--eventgrid-function", "on_sample_event"]
    try:
        started = devstack("up", "--world", str(SEED), "--state-dir", str(state_dir), "--speed", "50",
                           "--settings", str(settings), *app_args)  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert started.stdout.splitlines()[0] == "READY"
        env = read_stack_env(state_dir)
        assert env.keys() >= CLIENT_KEYS
        assert {
            name: stat.S_IMODE((state_dir / name).stat().st_mode) for name in PRIVATE_FILES
        } == dict.fromkeys(PRIVATE_FILES, 0o600)
        components = StackRecord.load(state_dir / "stack.json").components
        assert [c.name for c in components] == ["azurite", "emulator", "topic", "host"]
        assert all(c.is_alive() for c in components)  # they outlive the `up` command

        listed = httpx.get(
            f"{env['REGSYNC_HOST_URL']}/admin/functions", params={"code": env["REGSYNC_MASTER_KEY"]}
        )
        assert "on_sample_event" in {item["name"] for item in listed.json()}
        admin = EmulatorAdmin(env["AZUREML_EMULATOR_URL"], env["REQUESTS_CA_BUNDLE"])
        scopes = {subscription["scope"] for subscription in admin.event_subscriptions()}
        admin.close()
        assert scopes == {
            "/subscriptions/11111111-1111-1111-1111-111111111111",
            "/subscriptions/22222222-2222-2222-2222-222222222222",
        }
    finally:
        stopped = devstack("down", "--state-dir", str(state_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert "host" in stopped.stderr
    assert not any(c.is_alive() for c in components)
    assert not live_group_members({c.pid for c in components})  # Azurite's node child included
    assert not (state_dir / "stack.env").exists()
