"""The AzureML adapter: every call RegSync makes to AzureML goes through here, via the real azure-ai-ml SDK.

Who calls it: the engine (observe, share, push) and the reconcile. The only module that imports
`azure.ai.ml`, and it does so lazily: that import costs seconds, and HTTP routes such as status must not
pay it on cold start. One cached MLClient per workspace and per registry. SDK exceptions are classified
into RegSync's temporary/permanent taxonomy in ONE place, `classify`.

Credentials: DefaultAzureCredential (managed identity) in Azure; a static development token only when
the settings say we are pointed at devstack's emulator.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.domain import Asset, AssetKind, AssetRef, Registry, Workspace
from shared.errors import ConflictError, PermanentError, RegSyncError, TemporaryError
from shared.policy import PushAction, PushMode
from shared.provenance import TAG_REGISTRY_ID
from shared.settings import Settings

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

T = TypeVar("T")
_TEMPORARY_STATUS = {408, 423, 429, 500, 502, 503, 504}
_DEPLOYMENT_NAME = re.compile(r"[^a-z0-9-]+")
_WORKSPACE_ENVIRONMENT = re.compile(
    r"/workspaces/[^/]+/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$"
)


class StaticDevCredential:
    """A fixed bearer token for devstack's emulator, which accepts any token. Never used against Azure."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("regsync-local-development-token", int(time.time()) + 3600)


def classify(error: Exception, doing: str) -> RegSyncError:
    """Map an SDK or transport exception to temporary or permanent. Unknown errors count as temporary:
    the attempt limit on pushes (and Event Grid's 24 h) bounds the retries of a real bug."""
    if isinstance(error, RegSyncError):
        return error
    if isinstance(error, (ServiceRequestError, ServiceResponseError, TimeoutError, ConnectionError)):
        return TemporaryError(f"{doing}: AzureML unreachable ({type(error).__name__})", retry_after=10)
    if isinstance(error, HttpResponseError):
        status = error.status_code or 0
        message = _first_line(error.message or str(error))
        if status == 409:
            return ConflictError(f"{doing}: AzureML refused with a conflict: {message}")
        if status in _TEMPORARY_STATUS:
            return TemporaryError(
                f"{doing}: AzureML answered {status}: {message}", retry_after=_retry_after(error)
            )
        return PermanentError(f"{doing}: AzureML refused ({status}): {message}")
    name = type(error).__name__
    if name == "ValidationException" and "already exists" in str(error):
        # The SDK checks a registry share's destination itself before it calls AzureML.
        return ConflictError(f"{doing}: {_first_line(str(error))}")
    if name in {"ValidationException", "UserErrorException", "MlException"}:
        return PermanentError(f"{doing}: {_first_line(str(error))}")
    return TemporaryError(f"{doing}: unexpected {name}: {_first_line(str(error))}", retry_after=30)


def _retry_after(error: HttpResponseError) -> float:
    headers = getattr(error.response, "headers", None) or {}
    try:
        return max(1.0, float(headers.get("Retry-After", "30")))
    except ValueError:
        return 30.0


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no message"


class AzureMLGateway:
    """Typed operations on workspaces and the registry. Thread-safe client cache; calls are blocking."""

    def __init__(self, settings: Settings, credential: Any = None) -> None:
        self._settings = settings
        self._credential = credential
        self._clients: dict[str, MLClient] = {}
        self._share_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # --- clients -------------------------------------------------------------------------------

    def _get_credential(self) -> Any:
        if self._credential is None:
            if self._settings.azureml_emulator:
                self._credential = StaticDevCredential()
            else:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential()
        return self._credential

    def workspace_client(self, workspace: Workspace) -> MLClient:
        return self._client(
            f"ws|{workspace.arm_id.lower()}",
            subscription_id=workspace.subscription_id,
            resource_group_name=workspace.resource_group,
            workspace_name=workspace.name,
        )

    @contextmanager
    def sharing_client(self, workspace: Workspace) -> Iterator[MLClient]:
        """A workspace client used for shares only, one share at a time. The SDK's `share` points the
        client's operations at the registry while it runs, so a client shared with concurrent reads or
        pushes could send them to the registry instead of the workspace."""
        key = f"share|{workspace.arm_id.lower()}"
        with self._lock:
            lock = self._share_locks.setdefault(key, threading.Lock())
        client = self._client(
            key,
            subscription_id=workspace.subscription_id,
            resource_group_name=workspace.resource_group,
            workspace_name=workspace.name,
        )
        with lock:
            yield client

    def registry_client(self, registry: Registry) -> MLClient:
        return self._client(
            f"reg|{registry.name}",
            subscription_id=registry.subscription_id,
            resource_group_name=registry.resource_group,
            registry_name=registry.name,
        )

    def _client(self, key: str, **kwargs: str) -> MLClient:
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                from azure.ai.ml import MLClient

                client = MLClient(credential=self._get_credential(), **kwargs)
                self._clients[key] = client
            return client

    # --- observe -------------------------------------------------------------------------------

    def get_asset(self, workspace: Workspace, ref: AssetRef) -> Asset | None:
        """The asset version in a workspace with its tags and training job, or None if it is not there."""
        client = self.workspace_client(workspace)
        return self._get(client, ref, f"reading {ref} in {workspace.name}")

    def get_registry_asset(self, registry: Registry, ref: AssetRef) -> Asset | None:
        client = self.registry_client(registry)
        return self._get(client, ref, f"reading {ref} in registry {registry.name}")

    def _get(self, client: MLClient, ref: AssetRef, doing: str) -> Asset | None:
        with _classified(doing):
            try:
                entity = _operations(client, ref.kind).get(name=ref.name, version=ref.version)
            except ResourceNotFoundError:
                return None
        return _asset_of(ref, entity)

    def workspace_latest(self, workspace: Workspace, kind: AssetKind) -> list[Asset]:
        """The latest version of every asset of `kind` in a workspace: one paged list call."""
        return self._latest(self.workspace_client(workspace), kind, f"workspace {workspace.name}")

    def registry_latest(self, registry: Registry, kind: AssetKind) -> list[Asset]:
        return self._latest(self.registry_client(registry), kind, f"registry {registry.name}")

    def latest_registry_version(self, registry: Registry, ref: AssetRef) -> str | None:
        """The registry's latest version of `ref`'s name (AzureML's `latest`: most recently created)."""
        client = self.registry_client(registry)
        with _classified(f"reading the latest {ref.kind.value} {ref.name} in registry {registry.name}"):
            try:
                entity = _operations(client, ref.kind).get(name=ref.name, label="latest")
            except ResourceNotFoundError:
                return None
            except Exception as error:
                # The SDK turns the registry's 404 into a ValidationException of type RESOURCE_NOT_FOUND.
                if str(getattr(error, "error_type", "")).endswith("RESOURCE_NOT_FOUND"):
                    return None
                raise
        return str(entity.version)

    def registry_versions(self, registry: Registry, ref: AssetRef) -> list[str]:
        """Every version of `ref`'s name in the registry: one paged list call."""
        client = self.registry_client(registry)
        with _classified(f"listing the versions of {ref.kind.value} {ref.name} in registry {registry.name}"):
            return [str(entity.version) for entity in _operations(client, ref.kind).list(name=ref.name)]

    def _latest(self, client: MLClient, kind: AssetKind, where: str) -> list[Asset]:
        with _classified(f"listing {kind.value}s in {where}"):
            containers = list(_operations(client, kind).list())
        assets = []
        for container in containers:
            version = getattr(container, "latest_version", None) or getattr(container, "version", None)
            if version:
                ref = AssetRef(kind=kind, name=container.name, version=str(version))
                assets.append(_asset_of(ref, container))
        return assets

    # --- share ---------------------------------------------------------------------------------

    def share(
        self,
        origin: Workspace,
        ref: AssetRef,
        registry: Registry,
        destination: AssetRef,
        tags: dict[str, str],
    ) -> None:
        """Copy a workspace asset version into the registry, with provenance `tags`.

        Models, environments and data are imported (the registry keeps their lineage), then tagged;
        components have no share: they are created in the registry, tagged from the start.
        """
        doing = f"sharing {ref} from {origin.name} to registry {registry.name} as {destination.name}"
        with _classified(doing), self.sharing_client(origin) as client:
            if ref.kind is AssetKind.COMPONENT:
                self._share_component(client, ref, registry, destination, tags)
                return
            _operations(client, ref.kind).share(
                name=ref.name,
                version=ref.version,
                registry_name=registry.name,
                share_with_name=destination.name,
                share_with_version=destination.version,
            )
        self.stamp_registry_tags(registry, destination, tags)

    def _share_component(
        self, client: MLClient, ref: AssetRef, registry: Registry, destination: AssetRef, tags: dict[str, str]
    ) -> None:
        component = client.components.get(name=ref.name, version=ref.version)
        environment = _WORKSPACE_ENVIRONMENT.search(str(component.environment or ""))
        if environment is not None:
            # A registry component may only use registry environments: share its environment first.
            env = AssetRef(
                kind=AssetKind.ENVIRONMENT, name=environment["name"], version=environment["version"]
            )
            if (
                self._get(self.registry_client(registry), env, f"reading {env} in registry {registry.name}")
                is None
            ):
                client.environments.share(
                    name=env.name,
                    version=env.version,
                    registry_name=registry.name,
                    share_with_name=env.name,
                    share_with_version=env.version,
                )
            component.environment = env.registry_id(registry.name)
        component.name, component.version = destination.name, destination.version
        component.tags = {**(component.tags or {}), **tags}
        self.registry_client(registry).components.create_or_update(component)

    def stamp_registry_tags(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> None:
        """Add provenance tags to a registry version. Tags and description are the only mutable fields."""
        client = self.registry_client(registry)
        with _classified(f"stamping provenance on {ref} in registry {registry.name}"):
            operations = _operations(client, ref.kind)
            entity = operations.get(name=ref.name, version=ref.version)
            entity.tags = {**(entity.tags or {}), **tags}
            operations.create_or_update(entity)

    # --- push ----------------------------------------------------------------------------------

    def push(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> str:
        """Make a registry asset available in `target` as `action` says. Idempotent; returns what it did."""
        client = self.workspace_client(target)
        with _classified(f"pushing {ref} to {target.name} ({action.mode.value})"):
            if action.mode is PushMode.DEPLOY_ONLINE:
                return self._deploy_online(client, registry, ref, action, tags)
            if action.mode is PushMode.DEPLOY_BATCH:
                return self._deploy_batch(client, registry, ref, action, tags)
            return self._register(client, registry, ref, tags)

    def _register(self, client: MLClient, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> str:
        operations = _operations(client, ref.kind)
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
        entity = self._workspace_copy(registry, ref, {**tags, TAG_REGISTRY_ID: registry_id})
        operations.create_or_update(entity)
        return f"registered {ref.name}:{ref.version} from {registry_id}"

    def _workspace_copy(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> Any:
        from azure.ai.ml.entities import Data, Environment, Model

        registry_id = ref.registry_id(registry.name)
        if ref.kind is AssetKind.MODEL:
            return Model(name=ref.name, version=ref.version, path=registry_id, tags=tags)
        source = _operations(self.registry_client(registry), ref.kind).get(name=ref.name, version=ref.version)
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

    def _deploy_online(
        self, client: MLClient, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> str:
        from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

        endpoint_name = action.endpoint or ""
        endpoint = _get_or_create(
            lambda: client.online_endpoints.get(name=endpoint_name),
            lambda: client.online_endpoints.begin_create_or_update(
                ManagedOnlineEndpoint(name=endpoint_name, auth_mode="key", tags=tags)
            ),
        )
        name = deployment_name(ref)
        model_id = ref.registry_id(registry.name)
        deployment = _get_or_none(
            lambda: client.online_deployments.get(name=name, endpoint_name=endpoint_name)
        )
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

    def _deploy_batch(
        self, client: MLClient, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> str:
        from azure.ai.ml.entities import BatchEndpoint, ModelBatchDeployment, ResourceConfiguration

        endpoint_name = action.endpoint or ""
        endpoint = _get_or_create(
            lambda: client.batch_endpoints.get(name=endpoint_name),
            lambda: client.batch_endpoints.begin_create_or_update(
                BatchEndpoint(name=endpoint_name, tags=tags)
            ),
        )
        name = deployment_name(ref)
        deployment = _get_or_none(
            lambda: client.batch_deployments.get(name=name, endpoint_name=endpoint_name)
        )
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


def _operations(client: MLClient, kind: AssetKind) -> Any:
    return {
        AssetKind.MODEL: client.models,
        AssetKind.ENVIRONMENT: client.environments,
        AssetKind.COMPONENT: client.components,
        AssetKind.DATA: client.data,
    }[kind]


def _asset_of(ref: AssetRef, entity: Any) -> Asset:
    tags = {str(key): str(value) for key, value in (getattr(entity, "tags", None) or {}).items()}
    job = getattr(entity, "job_name", None)
    return Asset(ref=ref, tags=tags, job_name=str(job) if job else None)


def _get_or_none(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except ResourceNotFoundError:
        return None


def _get_or_create(read: Callable[[], T], begin_create: Callable[[], Any]) -> T:
    """An endpoint as it is, or created (a long-running operation, waited for) when it is missing."""
    found = _get_or_none(read)
    return found if found is not None else cast(T, begin_create().result())


@contextmanager
def _classified(doing: str) -> Iterator[None]:
    try:
        yield
    except ResourceExistsError as error:
        raise ConflictError(f"{doing}: already exists: {_first_line(str(error))}") from error
    except Exception as error:
        raise classify(error, doing) from error
