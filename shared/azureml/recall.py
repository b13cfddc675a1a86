"""Taking a recalled version back in a workspace and marking it in the registry; reading an endpoint.

Who calls it: shared.azureml.gateway (`endpoint_view`, `retire`, `archive_registry_version`), which
passes the clients and classifies errors. Every call is idempotent and none waits for AzureML.

What Azure allows: a registry version cannot be deleted in every case (a version other assets or
deployments use stays, and a deleted name and version can never be created again), so RegSync never
deletes one: it tags it `regsync.recalled` and archives it. Archiving hides a version from lists and
from `latest`, it stays usable by whoever names it exactly (docs/runbook.md cites the documentation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.azureml.deployments import TAG_DEPLOYED_AT, deployment_name, shifted_traffic
from shared.azureml.sdk import get_or_none, operations_for
from shared.domain import AssetRef, EndpointView, Registry, ServingDeployment
from shared.policy import PushAction, PushMode
from shared.provenance import TAG_REGISTRY_ID

if TYPE_CHECKING:
    from azure.ai.ml import MLClient


def endpoint_view(client: MLClient, action: PushAction) -> EndpointView | None:
    """The endpoint's deployments and its traffic (online) or default (batch): two reads."""
    online = action.mode is PushMode.DEPLOY_ONLINE
    endpoints = client.online_endpoints if online else client.batch_endpoints
    deployments = client.online_deployments if online else client.batch_deployments
    name = action.endpoint or ""
    endpoint = get_or_none(lambda: endpoints.get(name=name))
    if endpoint is None:
        return None
    listed = [
        ServingDeployment(
            name=str(deployment.name),
            model=_model_id(deployment.model),
            deployed_at=str((deployment.tags or {}).get(TAG_DEPLOYED_AT, "")),
            state=str(getattr(deployment.provisioning_state, "value", deployment.provisioning_state) or ""),
        )
        for deployment in deployments.list(endpoint_name=name)
    ]
    if online:
        traffic = {str(d): int(share) for d, share in (endpoint.traffic or {}).items()}
        return EndpointView(name=name, traffic=traffic, deployments=tuple(listed))
    default = endpoint.defaults.deployment_name if endpoint.defaults is not None else None
    return EndpointView(name=name, default=default, deployments=tuple(listed))


def _model_id(model: Any) -> str:
    """A deployment's model as an id: the SDK gives a string, or an entity with an `id`."""
    return str(getattr(model, "id", None) or model or "")


def retire(
    client: MLClient, registry: Registry, ref: AssetRef, action: PushAction, fallback: str | None
) -> str:
    if action.mode is PushMode.REGISTER:
        return _archive_copy(client, registry, ref)
    if action.mode is PushMode.DEPLOY_ONLINE:
        return _retire_online(client, ref, action, fallback)
    return _retire_batch(client, ref, action, fallback)


def _archive_copy(client: MLClient, registry: Registry, ref: AssetRef) -> str:
    """Archive RegSync's copy of `ref` in the workspace; a copy RegSync did not make is left alone."""
    operations = operations_for(client, ref.kind)
    copy = get_or_none(lambda: operations.get(name=ref.name, version=ref.version))
    if copy is None:
        return f"no copy of {ref} in the workspace: nothing to archive"
    if (copy.tags or {}).get(TAG_REGISTRY_ID) != ref.registry_id(registry.name):
        return f"the workspace's {ref} did not come from the registry: left as it is"
    operations.archive(name=ref.name, version=ref.version)
    return f"archived {ref.name}:{ref.version}"


def _retire_online(client: MLClient, ref: AssetRef, action: PushAction, fallback: str | None) -> str:
    endpoint_name, name = action.endpoint or "", deployment_name(ref)
    endpoint = get_or_none(lambda: client.online_endpoints.get(name=endpoint_name))
    if endpoint is None:
        return f"online endpoint {endpoint_name} is gone: nothing serves {ref}"
    before = {d: int(share) for d, share in (endpoint.traffic or {}).items()}
    traffic = traffic_without(before, name, fallback)
    if traffic != before:
        endpoint.traffic = traffic
        client.online_endpoints.begin_create_or_update(endpoint)
    if fallback is not None:
        return f"{endpoint_name}: traffic moved from {name} to {fallback}"
    if get_or_none(lambda: client.online_deployments.get(name=name, endpoint_name=endpoint_name)) is None:
        return f"{endpoint_name}/{name} is gone already"
    client.online_deployments.begin_delete(name=name, endpoint_name=endpoint_name)
    return f"{endpoint_name}: no previous version; traffic taken off {name} and its deployment removed"


def _retire_batch(client: MLClient, ref: AssetRef, action: PushAction, fallback: str | None) -> str:
    endpoint_name, name = action.endpoint or "", deployment_name(ref)
    endpoint = get_or_none(lambda: client.batch_endpoints.get(name=endpoint_name))
    if endpoint is None:
        return f"batch endpoint {endpoint_name} is gone: nothing serves {ref}"
    default = endpoint.defaults.deployment_name if endpoint.defaults is not None else None
    if fallback is not None:
        if default == name:
            endpoint.defaults = {"deployment_name": fallback}
            client.batch_endpoints.begin_create_or_update(endpoint)
        return f"{endpoint_name}: default moved from {name} to {fallback}"
    if get_or_none(lambda: client.batch_deployments.get(name=name, endpoint_name=endpoint_name)) is None:
        return f"{endpoint_name}/{name} is gone already"
    client.batch_deployments.begin_delete(name=name, endpoint_name=endpoint_name)
    return f"{endpoint_name}: no previous version; deployment {name} removed"


def traffic_without(current: dict[str, int], recalled: str, fallback: str | None) -> dict[str, int]:
    """The traffic with `recalled`'s share given to `fallback`; with no fallback, the others that serve
    take it proportionally (AzureML wants 100 in all, or nothing serving)."""
    share = current.get(recalled, 0)
    if not share:
        return current
    if fallback is not None:
        return {**current, recalled: 0, fallback: current.get(fallback, 0) + share}
    if any(value for name, value in current.items() if name != recalled):
        return shifted_traffic(current, recalled, 0)
    return {**current, recalled: 0}


def archive_registry_version(client: MLClient, ref: AssetRef, tags: dict[str, str]) -> str:
    operations = operations_for(client, ref.kind)
    entity = get_or_none(lambda: operations.get(name=ref.name, version=ref.version))
    if entity is None:
        return f"{ref} is not in the registry"
    if any((entity.tags or {}).get(key) != value for key, value in tags.items()):
        entity.tags = {**(entity.tags or {}), **tags}
        operations.create_or_update(entity)
    operations.archive(name=ref.name, version=ref.version)
    return f"{ref} tagged recalled and archived in the registry"
