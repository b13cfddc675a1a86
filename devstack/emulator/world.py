"""The world file: which subscriptions, workspaces, registries and Event Grid subscriptions exist.

Loaded once by `devstack.emulator.__main__` at start; `state.State` builds its in-memory world from it.
The YAML format is documented in docs/emulator.md; `devstack/worlds/seed.yaml` is the seed's world.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROVIDER = "Microsoft.MachineLearningServices"
SCHEMAS = ("EventGridSchema", "CloudEventSchemaV1_0")


@dataclass(frozen=True)
class Workspace:
    """One AzureML workspace; `workspace_id` is the stable GUID the SDK puts into sourceAssetId."""

    subscription: str
    resource_group: str
    name: str
    region: str

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/workspaces/{self.name}"
        )

    @property
    def workspace_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.arm_id.lower()))


@dataclass(frozen=True)
class Registry:
    """One AzureML registry; the first region is the primary one."""

    name: str
    subscription: str
    resource_group: str
    regions: tuple[str, ...]
    denied_workspaces: tuple[str, ...] = ()  # workspaces the registry does not admit (403 on use)

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/registries/{self.name}"
        )

    @property
    def registry_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.arm_id.lower()))


@dataclass(frozen=True)
class EventSubscription:
    """An Event Grid subscription: where to POST, which scope's events, in which schema."""

    name: str
    endpoint: str
    scope: str
    schema: str = "EventGridSchema"
    event_types: tuple[str, ...] = ()


@dataclass
class World:
    workspaces: list[Workspace] = field(default_factory=list)
    registries: list[Registry] = field(default_factory=list)
    event_subscriptions: list[EventSubscription] = field(default_factory=list)
    provisioning: dict[str, float] = field(default_factory=dict)  # "endpoint"/"deployment" -> seconds


def load_world(path: Path) -> World:
    """Parse and check a world file; a malformed file fails fast with the offending entry named."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    world = World()
    for sub in raw.get("subscriptions") or []:
        for rg in sub.get("resourceGroups") or []:
            for ws in rg.get("workspaces") or []:
                world.workspaces.append(Workspace(str(sub["id"]), rg["name"], ws["name"], ws["region"]))
    for reg in raw.get("registries") or []:
        if not reg.get("regions"):
            raise ValueError(f"registry `{reg.get('name')}` needs at least one region")
        world.registries.append(
            Registry(
                reg["name"],
                str(reg["subscription"]),
                reg["resourceGroup"],
                tuple(reg["regions"]),
                tuple(reg.get("deniedWorkspaces") or ()),
            )
        )
    delays = raw.get("provisioning") or {}
    world.provisioning = {
        kind: float(delays[key])
        for kind, key in (("endpoint", "endpointSeconds"), ("deployment", "deploymentSeconds"))
        if key in delays
    }
    world.event_subscriptions = [parse_event_subscription(es) for es in raw.get("eventSubscriptions") or []]
    return world


def parse_event_subscription(raw: dict[str, Any]) -> EventSubscription:
    """Build an EventSubscription from a world-file entry or an admin request body."""
    schema = raw.get("schema", "EventGridSchema")
    if schema not in SCHEMAS:
        raise ValueError(f"event subscription `{raw.get('name')}`: schema must be one of {SCHEMAS}")
    for key in ("name", "endpoint", "scope"):
        if not raw.get(key):
            raise ValueError(f"event subscription needs `{key}`")
    return EventSubscription(
        name=raw["name"],
        endpoint=raw["endpoint"],
        scope=raw["scope"].rstrip("/"),
        schema=schema,
        event_types=tuple(raw.get("eventTypes") or ()),
    )
