"""Helpers shared by the test packages: polling with a deadline, and AzureML event payloads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from shared.domain import workspace_arm_id
from shared.events import MODEL_REGISTERED

T = TypeVar("T")
SUB1 = "11111111-1111-1111-1111-111111111111"
SUB2 = "22222222-2222-2222-2222-222222222222"
# Where the seed world puts each workspace: (subscription, resource group).
SEED_PLACES = dict.fromkeys(("workspace1", "workspace2", "workspace3", "workspace5"), (SUB1, "rg-tenants"))
SEED_PLACES["workspace4"] = (SUB2, "rg-woodgrove")


def wait_for(predicate: Callable[[], T], *, what: str = "condition", timeout: float = 60.0) -> T:
    """Poll `predicate` until it returns something truthy and return that; fail after `timeout` seconds.

    Polling with a deadline, never a sleep as synchronisation.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def model_registered(
    workspace: str, name: str, version: str, *, event_id: str | None = None, cloud: bool = False
) -> dict[str, Any]:
    """A ModelRegistered event of a seed workspace, as Event Grid delivers it (either schema)."""
    topic = workspace_arm_id(*SEED_PLACES[workspace], workspace)
    data = {"ModelName": name, "ModelVersion": version, "ModelTags": {}}
    event_id = event_id or str(uuid.uuid4())
    subject = f"models/{name}:{version}"
    if cloud:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": topic,
            "subject": subject,
            "type": MODEL_REGISTERED,
            "time": "2026-11-22T10:00:00Z",
            "data": data,
        }
    return {
        "id": event_id,
        "topic": topic,
        "subject": subject,
        "eventType": MODEL_REGISTERED,
        "eventTime": "2026-11-22T10:00:00Z",
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
    }


def live_group_members(groups: set[int]) -> list[int]:
    """Pids of live (non-zombie) processes whose process group is one of `groups`."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _parent, group = stat_file.read_text().rsplit(")", 1)[1].split()[:3]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(group) in groups and state != "Z":
            members.append(int(stat_file.parent.name))
    return members
