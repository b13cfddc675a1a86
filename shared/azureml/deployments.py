"""Pushes into a workspace: register a registry asset there, or deploy a registry model to an online or
batch endpoint. Each is idempotent: a push sent again finds its work done and says so.

Who calls it: shared.azureml.gateway (`AzureMLGateway.push`), which passes the workspace client and its
cached registry clients. Errors are classified there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from shared.azureml.sdk import get_or_create, get_or_none, operations_for
from shared.domain import AssetKind, AssetRef, Registry
from shared.errors import ConflictError
from shared.policy import PushAction
from shared.provenance import TAG_REGISTRY_ID

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

_DEPLOYMENT_NAME = re.compile(r"[^a-z0-9-]+")


def register(
    client: MLClient,
    registry: Registry,
    ref: AssetRef,
    tags: dict[str, str],
    *,
    registry_client: Callable[[Registry], MLClient],
) -> str:
    """Register a registry asset version in a workspace (a copy naming its source); idempotent."""
    operations = operations_for(client, ref.kind)
    registry_id = ref.registry_id(registry.name)
    try:
        existing = operations.get(name=ref.name, version=ref.version)
    except ResourceNotFoundError:
        existing = None
    if existing is not None:
        if (existing.tags or {}).get(TAG_REGISTRY_ID) == registry_id:
            return f"already registered as {ref.name}:{ref.version}"
        raise ConflictError(
            f"the workspace already holds {ref} that did not come from {registry_id}; "
            "RegSync does not overwrite it"
        )
    entity = workspace_copy(registry, ref, {**tags, TAG_REGISTRY_ID: registry_id}, registry_client)
    operations.create_or_update(entity)
    return f"registered {ref.name}:{ref.version} from {registry_id}"


def workspace_copy(
    registry: Registry, ref: AssetRef, tags: dict[str, str], registry_client: Callable[[Registry], MLClient]
) -> Any:
    """The workspace's copy of a registry asset version, carrying `tags` (models point at the registry)."""
    from azure.ai.ml.entities import Data, Environment, Model

    registry_id = ref.registry_id(registry.name)
    if ref.kind is AssetKind.MODEL:
        return Model(name=ref.name, version=ref.version, path=registry_id, tags=tags)
    source = operations_for(registry_client(registry), ref.kind).get(name=ref.name, version=ref.version)
    if ref.kind is AssetKind.ENVIRONMENT:
        return Environment(
            name=ref.name,
            version=ref.version,
            image=source.image,
            conda_file=source.conda_file,
            description=source.description,
            tags=tags,
        )
    if ref.kind is AssetKind.DATA:
        return Data(name=ref.name, version=ref.version, path=source.path, type=source.type, tags=tags)
    source.tags = {**(source.tags or {}), **tags}
    return source


def deploy_online(
    client: MLClient, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
) -> str:
    from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

    endpoint_name = action.endpoint or ""
    endpoint = get_or_create(
        lambda: client.online_endpoints.get(name=endpoint_name),
        lambda: client.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name=endpoint_name, auth_mode="key", tags=tags)
        ),
    )
    name = deployment_name(ref)
    model_id = ref.registry_id(registry.name)
    deployment = get_or_none(lambda: client.online_deployments.get(name=name, endpoint_name=endpoint_name))
    if deployment is None or deployment.model != model_id:
        deployment = ManagedOnlineDeployment(
            name=name,
            endpoint_name=endpoint_name,
            model=model_id,
            instance_type=action.instance_type,
            instance_count=action.instance_count,
            tags=tags,
        )
        client.online_deployments.begin_create_or_update(deployment).result()
    traffic = shifted_traffic(dict(endpoint.traffic or {}), name, action.traffic_percent)
    if traffic != (endpoint.traffic or {}):
        endpoint.traffic = traffic
        client.online_endpoints.begin_create_or_update(endpoint).result()
    share = traffic.get(name, 0)
    return f"deployed {ref.name}:{ref.version} to online endpoint {endpoint_name}/{name} ({share}%)"


def deploy_batch(
    client: MLClient, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
) -> str:
    from azure.ai.ml.entities import BatchEndpoint, ModelBatchDeployment, ResourceConfiguration

    endpoint_name = action.endpoint or ""
    endpoint = get_or_create(
        lambda: client.batch_endpoints.get(name=endpoint_name),
        lambda: client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=endpoint_name, tags=tags)),
    )
    name = deployment_name(ref)
    deployment = get_or_none(lambda: client.batch_deployments.get(name=name, endpoint_name=endpoint_name))
    if deployment is None:
        deployment = ModelBatchDeployment(
            name=name,
            endpoint_name=endpoint_name,
            model=ref.registry_id(registry.name),
            compute=action.compute,
            resources=ResourceConfiguration(instance_count=action.instance_count),
            tags=tags,
        )
        client.batch_deployments.begin_create_or_update(deployment).result()
    if endpoint.defaults is None or endpoint.defaults.deployment_name != name:
        endpoint = client.batch_endpoints.get(name=endpoint_name)
        endpoint.defaults = {"deployment_name": name}
        client.batch_endpoints.begin_create_or_update(endpoint).result()
    return f"deployed {ref.name}:{ref.version} to batch endpoint {endpoint_name}/{name} (default)"


def deployment_name(ref: AssetRef) -> str:
    """A valid deployment name (letter first, 3-32 of [a-z0-9-]), stable and unique per asset version.

    Readable (`name-vversion`) when that fits losslessly; otherwise a prefix plus a hash of the exact
    name and version, so versions differing only in case, separators or a long tail never collide.
    """
    exact = f"{ref.name}-v{ref.version}"
    readable = exact.lower()
    if (
        readable == exact
        and readable[0].isalpha()
        and len(readable) <= 32
        and not _DEPLOYMENT_NAME.search(readable)
    ):
        return readable
    digest = hashlib.sha256(f"{ref.name}:{ref.version}".encode()).hexdigest()[:8]
    prefix = _DEPLOYMENT_NAME.sub("-", readable).strip("-")[:22].rstrip("-")
    if not prefix or not prefix[0].isalpha():
        prefix = f"d{prefix}"[:22].rstrip("-")
    return f"{prefix}-{digest}"


def shifted_traffic(current: dict[str, int], deployment: str, percent: int) -> dict[str, int]:
    """Give `deployment` `percent` of the traffic and scale the others down proportionally to sum 100."""
    others = {name: share for name, share in current.items() if name != deployment and share > 0}
    rest = 100 - percent
    total = sum(others.values())
    if total == 0:  # nothing else serves traffic: the new deployment takes all of it
        return {deployment: 100}
    scaled = {name: share * rest // total for name, share in others.items()}
    leftover = rest - sum(scaled.values())
    first = max(scaled, key=lambda name: scaled[name])
    scaled[first] += leftover
    return {**scaled, deployment: percent}
