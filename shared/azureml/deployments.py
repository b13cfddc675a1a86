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

from shared.azureml.sdk import get_or_none, operations_for
from shared.domain import AssetKind, AssetRef, DeploymentState, Provisioning, Pushed, Registry
from shared.errors import ConflictError
from shared.policy import PushAction, PushMode
from shared.provenance import TAG_REGISTRY_ID
from shared.records import utc_now

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


_READY, _FAILED = "Succeeded", ("Failed", "Canceled")
TAG_DEPLOYED_AT = "regsync.deployed_at"  # when RegSync started a deployment: the order of pruning


def start_online(
    client: MLClient, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
) -> Pushed:
    """Start deploying `ref` to an online endpoint and return at once: create the endpoint if it is
    missing (its deployment starts on a later call, once it is ready), else create the deployment.
    Traffic is not touched here: `promote` moves it once the deployment is ready."""
    from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

    endpoint_name = action.endpoint or ""
    endpoint = get_or_none(lambda: client.online_endpoints.get(name=endpoint_name))
    if endpoint is None:
        poller = client.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name=endpoint_name, auth_mode="key", tags=tags)
        )
        what = f"creating online endpoint {endpoint_name}; {ref} is deployed once it is ready"
        return Pushed(what=what, deploying=True, operation=operation_url(poller))
    if endpoint.provisioning_state != _READY:
        return Pushed(
            what=f"online endpoint {endpoint_name} is {endpoint.provisioning_state}", deploying=True
        )
    name = deployment_name(ref)
    model_id = ref.registry_id(registry.name)
    deployment = get_or_none(lambda: client.online_deployments.get(name=name, endpoint_name=endpoint_name))
    if (
        deployment is not None
        and deployment.model == model_id
        and deployment.provisioning_state not in _FAILED
    ):
        return Pushed(
            what=f"deployment {endpoint_name}/{name} is {deployment.provisioning_state}", deploying=True
        )
    poller = client.online_deployments.begin_create_or_update(
        ManagedOnlineDeployment(
            name=name,
            endpoint_name=endpoint_name,
            model=model_id,
            instance_type=action.instance_type,
            instance_count=action.instance_count,
            tags={**tags, TAG_DEPLOYED_AT: utc_now().isoformat()},
            **scoring(action),
        )
    )
    what = f"started deploying {ref.name}:{ref.version} to online endpoint {endpoint_name}/{name}"
    return Pushed(what=what, deploying=True, operation=operation_url(poller))


def start_batch(
    client: MLClient, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
) -> Pushed:
    """Start deploying `ref` to a batch endpoint, as `start_online` does; the default moves in `promote`."""
    from azure.ai.ml.entities import BatchEndpoint, ModelBatchDeployment, ResourceConfiguration

    endpoint_name = action.endpoint or ""
    endpoint = get_or_none(lambda: client.batch_endpoints.get(name=endpoint_name))
    if endpoint is None:
        poller = client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=endpoint_name, tags=tags))
        what = f"creating batch endpoint {endpoint_name}; {ref} is deployed once it is ready"
        return Pushed(what=what, deploying=True, operation=operation_url(poller))
    if endpoint.provisioning_state != _READY:
        return Pushed(what=f"batch endpoint {endpoint_name} is {endpoint.provisioning_state}", deploying=True)
    name = deployment_name(ref)
    deployment = get_or_none(lambda: client.batch_deployments.get(name=name, endpoint_name=endpoint_name))
    if deployment is not None and deployment.provisioning_state not in _FAILED:
        return Pushed(
            what=f"deployment {endpoint_name}/{name} is {deployment.provisioning_state}", deploying=True
        )
    poller = client.batch_deployments.begin_create_or_update(
        ModelBatchDeployment(
            name=name,
            endpoint_name=endpoint_name,
            model=ref.registry_id(registry.name),
            compute=action.compute,
            resources=ResourceConfiguration(instance_count=action.instance_count),
            tags={**tags, TAG_DEPLOYED_AT: utc_now().isoformat()},
            **scoring(action),
        )
    )
    what = f"started deploying {ref.name}:{ref.version} to batch endpoint {endpoint_name}/{name}"
    return Pushed(what=what, deploying=True, operation=operation_url(poller))


def scoring(action: PushAction) -> dict[str, Any]:
    """The deployment's scoring code and environment, when the rule names them (a custom model)."""
    from azure.ai.ml.entities import CodeConfiguration

    found: dict[str, Any] = {}
    if action.code_configuration is not None:
        code, script = action.code_configuration.code, action.code_configuration.scoring_script
        found["code_configuration"] = CodeConfiguration(code=code, scoring_script=script)
    if action.environment is not None:
        found["environment"] = action.environment
    return found


def deployment_state(
    client: MLClient, action: PushAction, ref: AssetRef, reason_of: Callable[[str], str]
) -> DeploymentState:
    """Where the deployment of `ref` stands: the endpoint's state first, then the deployment's.
    `reason_of(state)` reads Azure's reason of a failure (the status of its long-running operation)."""
    online = action.mode is PushMode.DEPLOY_ONLINE
    endpoints = client.online_endpoints if online else client.batch_endpoints
    deployments = client.online_deployments if online else client.batch_deployments
    endpoint_name, name = action.endpoint or "", deployment_name(ref)
    endpoint = get_or_none(lambda: endpoints.get(name=endpoint_name))
    if endpoint is None:
        return DeploymentState(state=Provisioning.ABSENT, reason=f"no endpoint {endpoint_name}")
    if endpoint.provisioning_state in _FAILED:
        return DeploymentState(state=Provisioning.FAILED, reason=reason_of(f"endpoint {endpoint_name}"))
    if endpoint.provisioning_state != _READY:
        state = f"endpoint {endpoint_name} is {endpoint.provisioning_state}"
        return DeploymentState(state=Provisioning.IN_PROGRESS, reason=state)
    deployment = get_or_none(lambda: deployments.get(name=name, endpoint_name=endpoint_name))
    if deployment is None:
        return DeploymentState(state=Provisioning.ABSENT, reason=f"no deployment {endpoint_name}/{name}")
    if deployment.provisioning_state == _READY:
        return DeploymentState(state=Provisioning.SUCCEEDED, reason=f"{endpoint_name}/{name} is ready")
    if deployment.provisioning_state in _FAILED:
        return DeploymentState(
            state=Provisioning.FAILED, reason=reason_of(f"deployment {endpoint_name}/{name}")
        )
    state = f"deployment {endpoint_name}/{name} is {deployment.provisioning_state}"
    return DeploymentState(state=Provisioning.IN_PROGRESS, reason=state)


def promote(client: MLClient, action: PushAction, ref: AssetRef) -> str:
    """Give the READY deployment of `ref` its traffic (online) or make it the default (batch), without
    waiting for the endpoint's update, then remove RegSync's older deployments beyond the policy's number
    (never one that serves traffic or is the default). Idempotent."""
    endpoint_name, name = action.endpoint or "", deployment_name(ref)
    if action.mode is PushMode.DEPLOY_ONLINE:
        endpoint = client.online_endpoints.get(name=endpoint_name)
        before = dict(endpoint.traffic or {})
        traffic = shifted_traffic(before, name, action.traffic_percent)
        if traffic != before:
            endpoint.traffic = traffic
            client.online_endpoints.begin_create_or_update(endpoint)
        serving = {d for d, share in {**before, **traffic}.items() if share > 0} | {name}
        removed = _prune(client.online_deployments, endpoint_name, serving, action.keep_deployments)
        what = f"{endpoint_name}/{name} is ready and takes {traffic.get(name, 0)}% of the traffic"
    else:
        endpoint = client.batch_endpoints.get(name=endpoint_name)
        previous = endpoint.defaults.deployment_name if endpoint.defaults is not None else None
        if previous != name:
            endpoint.defaults = {"deployment_name": name}
            client.batch_endpoints.begin_create_or_update(endpoint)
        serving = {name} | ({previous} if previous else set())
        removed = _prune(client.batch_deployments, endpoint_name, serving, action.keep_deployments)
        what = f"{endpoint_name}/{name} is ready and is the batch endpoint's default"
    return f"{what}; removed {', '.join(removed)}" if removed else what


def _prune(deployments: Any, endpoint_name: str, serving: set[str], keep: int) -> list[str]:
    """Delete (without waiting) RegSync's deployments on the endpoint beyond the newest `keep`, except
    those that serve. Deployments RegSync did not make (no `regsync.deployed_at` tag) are never touched.
    A failed deployment is never one of those kept: the ones kept are what a recall can go back to."""
    ours = [d for d in deployments.list(endpoint_name=endpoint_name) if TAG_DEPLOYED_AT in (d.tags or {})]
    ours.sort(key=lambda d: str(d.tags[TAG_DEPLOYED_AT]), reverse=True)
    kept = sum(1 for d in ours if d.name in serving)
    removed = []
    for deployment in ours:
        if deployment.name in serving:
            continue
        if kept < keep and deployment.provisioning_state not in _FAILED:
            kept += 1
            continue
        if deployment.provisioning_state in {"Creating", "Updating", "Deleting"}:
            continue
        deployments.begin_delete(name=deployment.name, endpoint_name=endpoint_name)
        removed.append(deployment.name)
    return removed


def operation_url(poller: Any) -> str:
    """The `Azure-AsyncOperation` (else `Location`) URL of a started long-running operation: its status
    body carries Azure's error when the operation fails. "" when the poller does not expose it."""
    try:
        response = poller.polling_method()._initial_response.http_response
        headers = response.headers
    except AttributeError:
        return ""
    return str(headers.get("Azure-AsyncOperation") or headers.get("Location") or "")


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
