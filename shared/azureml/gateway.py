"""The AzureML adapter: every call RegSync makes to AzureML goes through here, via the real azure-ai-ml SDK.

Who calls it: the engine (observe, share, push) and the reconcile, through `shared.azureml`. The
adapter's modules (this one, shared.azureml.deployments and .sdk) are the only ones that import
`azure.ai.ml`, and they do so lazily (or for types only): that import costs seconds, and HTTP routes
such as status must not pay it on cold start. One cached MLClient
per workspace and per registry. SDK exceptions are classified by shared.azureml.sdk (`classify`).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError
from pydantic import ValidationError

from shared.azureml import deployments, recall
from shared.azureml.deployments import register, start_batch, start_online
from shared.azureml.registry import import_version, stamp_version, workspace_asset_id
from shared.azureml.retry import BriefRetry
from shared.azureml.sdk import StaticDevCredential, asset_of, classified, operations_for
from shared.domain import (
    Asset,
    AssetKind,
    AssetRef,
    DeploymentState,
    EndpointView,
    Pushed,
    Registry,
    Workspace,
)
from shared.policy import PushAction, PushMode
from shared.settings import Settings
from shared.transport import shared_transport

log = logging.getLogger("regsync.azureml")

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

_WORKSPACE_ENVIRONMENT = re.compile(
    r"/workspaces/[^/]+/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$"
)


class AzureMLGateway:
    """Typed operations on workspaces and the registry. Thread-safe client cache; calls are blocking."""

    def __init__(self, settings: Settings, credential: Any = None) -> None:
        self._settings = settings
        self._credential = credential
        self._clients: dict[str, MLClient] = {}
        self._building: dict[str, threading.Lock] = {}  # one per client key: builds never queue behind others
        self._places: dict[str, tuple[str, str]] = {}  # workspace arm id -> (location, workspace GUID)
        self._lock = threading.Lock()  # guards the three dicts only, never held while a client is built

    # --- clients -------------------------------------------------------------------------------

    def credential(self) -> Any:
        with self._lock:
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

    def registry_client(self, registry: Registry) -> MLClient:
        return self._client(
            f"reg|{registry.name}",
            subscription_id=registry.subscription_id,
            resource_group_name=registry.resource_group,
            registry_name=registry.name,
        )

    def _client(self, key: str, **kwargs: str) -> MLClient:
        """The cached client for `key`, built once. Building one (a registry's does a discovery call)
        holds only that key's lock, so 50 workspaces' first pushes build their clients side by side."""
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            client = self._clients.get(key)
            if client is None:
                from azure.ai.ml import MLClient

                client = MLClient(
                    credential=self.credential(),
                    retry_policy=BriefRetry(),
                    transport=shared_transport(),
                    **kwargs,
                )
                with self._lock:
                    self._clients[key] = client
            return client

    def warm(self, registry: Registry) -> None:
        """Build the registry's client in the background (its discovery call and the SDK's setup take
        most of a cold start's first share), while the caller reads the source workspace."""
        if f"reg|{registry.name}" not in self._clients:
            threading.Thread(target=self._warm, args=(registry,), name="regsync-warm", daemon=True).start()

    def _warm(self, registry: Registry) -> None:
        try:
            self.registry_client(registry)
        except Exception as error:  # the caller's own call builds it again and reports the failure
            log.debug("warming the client of registry %s failed: %s", registry.name, error)

    def _place(self, workspace: Workspace) -> tuple[str, str]:
        """The workspace's location and GUID, which name its assets for a registry import; read once (a
        workspace's GUID never changes)."""
        key = workspace.arm_id.lower()
        place = self._places.get(key)
        if place is None:
            found = self.workspace_client(workspace).workspaces.get(workspace.name)
            place = (str(found.location), str(found._workspace_id))
            with self._lock:
                self._places[key] = place
        return place

    # --- observe -------------------------------------------------------------------------------

    def get_asset(self, workspace: Workspace, ref: AssetRef) -> Asset | None:
        """The asset version in a workspace with its tags and training job, or None if it is not there."""
        client = self.workspace_client(workspace)
        return self._get(client, ref, f"reading {ref} in {workspace.name}")

    def get_registry_asset(self, registry: Registry, ref: AssetRef) -> Asset | None:
        client = self.registry_client(registry)
        return self._get(client, ref, f"reading {ref} in registry {registry.name}")

    def _get(self, client: MLClient, ref: AssetRef, doing: str) -> Asset | None:
        with classified(doing):
            try:
                entity = operations_for(client, ref.kind).get(name=ref.name, version=ref.version)
            except ResourceNotFoundError:
                return None
        return asset_of(ref, entity)

    def workspace_latest(self, workspace: Workspace, kind: AssetKind) -> list[Asset]:
        """The latest version of every asset of `kind` in a workspace: one paged list call."""
        return self._latest(self.workspace_client(workspace), kind, f"workspace {workspace.name}")

    def registry_latest(self, registry: Registry, kind: AssetKind) -> list[Asset]:
        return self._latest(self.registry_client(registry), kind, f"registry {registry.name}")

    def latest_registry_version(self, registry: Registry, ref: AssetRef) -> str | None:
        """The registry's latest version of `ref`'s name (AzureML's `latest`: most recently created)."""
        client = self.registry_client(registry)
        with classified(f"reading the latest {ref.kind.value} {ref.name} in registry {registry.name}"):
            try:
                entity = operations_for(client, ref.kind).get(name=ref.name, label="latest")
            except ResourceNotFoundError:
                return None
            except Exception as error:
                # The SDK turns the registry's 404 into a ValidationException of type RESOURCE_NOT_FOUND.
                if str(getattr(error, "error_type", "")).endswith("RESOURCE_NOT_FOUND"):
                    return None
                raise
        return str(entity.version)

    def registry_versions(self, registry: Registry, ref: AssetRef) -> list[Asset]:
        """Every version of `ref`'s name in the registry with its tags, as AzureML lists them (newest
        first): one paged list call."""
        client = self.registry_client(registry)
        with classified(f"listing the versions of {ref.kind.value} {ref.name} in registry {registry.name}"):
            entities = list(operations_for(client, ref.kind).list(name=ref.name))
        versions = []
        for entity in entities:
            try:
                version = AssetRef(kind=ref.kind, name=ref.name, version=str(entity.version))
            except ValidationError:  # not a version RegSync could have shared; it hides no other
                continue
            versions.append(asset_of(version, entity))
        return versions

    def _latest(self, client: MLClient, kind: AssetKind, where: str) -> list[Asset]:
        with classified(f"listing {kind.value}s in {where}"):
            containers = list(operations_for(client, kind).list())
        assets = []
        for container in containers:
            version = getattr(container, "latest_version", None) or getattr(container, "version", None)
            if not version:
                continue
            try:
                ref = AssetRef(kind=kind, name=container.name, version=str(version))
            except ValidationError:
                # E.g. an anonymous environment, versioned by a 64-character hash: RegSync never shares
                # such an asset, and one of them must not hide the rest of the listing.
                log.debug(
                    "%s %s:%s in %s is not an asset RegSync handles",
                    kind.value,
                    container.name,
                    version,
                    where,
                )
                continue
            assets.append(asset_of(ref, container))
        return assets

    # --- share ---------------------------------------------------------------------------------

    def share(
        self,
        origin: Workspace,
        ref: AssetRef,
        registry: Registry,
        destination: AssetRef,
        tags: dict[str, str],
    ) -> Asset:
        """Copy a workspace asset version into the registry with provenance `tags`; the registry's copy.

        Models, environments and data are imported (the registry keeps their lineage), then tagged;
        components have no import: they are created in the registry, tagged from the start.
        """
        doing = f"sharing {ref} from {origin.name} to registry {registry.name} as {destination.name}"
        with classified(doing):
            if ref.kind is AssetKind.COMPONENT:
                return self._share_component(origin, ref, registry, destination, tags)
            source = self._import(origin, ref, registry, destination)
            operations = operations_for(self.registry_client(registry), destination.kind)
            return stamp_version(operations, destination, tags, imported_from=source)

    def _import(self, origin: Workspace, ref: AssetRef, registry: Registry, destination: AssetRef) -> str:
        """Import `ref` from `origin` as `destination`; the source's asset id."""
        location, guid = self._place(origin)
        source = workspace_asset_id(location, guid, ref)
        import_version(operations_for(self.registry_client(registry), destination.kind), source, destination)
        return source

    def _share_component(
        self,
        origin: Workspace,
        ref: AssetRef,
        registry: Registry,
        destination: AssetRef,
        tags: dict[str, str],
    ) -> Asset:
        component = self.workspace_client(origin).components.get(name=ref.name, version=ref.version)
        environment = _WORKSPACE_ENVIRONMENT.search(str(component.environment or ""))
        if environment is not None:
            # A registry component may only use registry environments: share its environment first.
            env = AssetRef(
                kind=AssetKind.ENVIRONMENT, name=environment["name"], version=environment["version"]
            )
            if self.get_registry_asset(registry, env) is None:
                self._import(origin, env, registry, env)
            component.environment = env.registry_id(registry.name)
        component.name, component.version = destination.name, destination.version
        component.tags = {**(component.tags or {}), **tags}
        created = self.registry_client(registry).components.create_or_update(component)
        return asset_of(destination, created)

    def stamp_registry_tags(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> Asset:
        """Add provenance tags to a registry version (tags and description are its only mutable
        fields); the registry's copy as AzureML answered."""
        client = self.registry_client(registry)
        with classified(f"stamping provenance on {ref} in registry {registry.name}"):
            return stamp_version(operations_for(client, ref.kind), ref, tags)

    # --- push ----------------------------------------------------------------------------------

    def push(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, tags: dict[str, str]
    ) -> Pushed:
        """Make a registry asset available in `target` as `action` says. Idempotent; never waits for a
        deployment to provision: it is started, and `deployment_state` says how it goes."""
        client = self.workspace_client(target)
        with classified(f"pushing {ref} to {target.name} ({action.mode.value})"):
            if action.mode is PushMode.DEPLOY_ONLINE:
                return start_online(client, registry, ref, action, tags)
            if action.mode is PushMode.DEPLOY_BATCH:
                return start_batch(client, registry, ref, action, tags)
            return Pushed(what=register(client, registry, ref, tags, registry_client=self.registry_client))

    def deployment_state(
        self, target: Workspace, action: PushAction, ref: AssetRef, operation: str = ""
    ) -> DeploymentState:
        client = self.workspace_client(target)
        with classified(f"reading the deployment of {ref} on {target.name}/{action.endpoint}"):
            return deployments.deployment_state(
                client, action, ref, lambda what: self._failure_reason(operation, what)
            )

    def promote(self, target: Workspace, action: PushAction, ref: AssetRef) -> str:
        client = self.workspace_client(target)
        with classified(f"moving {target.name}/{action.endpoint} to the deployment of {ref}"):
            return deployments.promote(client, action, ref)

    # --- recall (shared.azureml.recall) ---------------------------------------------------------

    def endpoint_view(self, target: Workspace, action: PushAction) -> EndpointView | None:
        client = self.workspace_client(target)
        with classified(f"reading endpoint {target.name}/{action.endpoint}"):
            return recall.endpoint_view(client, action)

    def retire(
        self, target: Workspace, registry: Registry, ref: AssetRef, action: PushAction, fallback: str | None
    ) -> str:
        client = self.workspace_client(target)
        with classified(f"taking {ref} back from {target.name} ({action.mode.value})"):
            return recall.retire(client, registry, ref, action, fallback)

    def archive_registry_version(self, registry: Registry, ref: AssetRef, tags: dict[str, str]) -> str:
        client = self.registry_client(registry)
        with classified(f"archiving {ref} in registry {registry.name}"):
            return recall.archive_registry_version(client, ref, tags)

    def _failure_reason(self, operation: str, what: str) -> str:
        """Azure's reason for a failed provisioning: the `error` of its long-running operation's status
        (ARM's async-operation document), read with RegSync's credential; a plain sentence without it."""
        fallback = f"{what} failed (provisioningState Failed)"
        if not operation.startswith("https://"):
            return fallback
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy
        from azure.core.rest import HttpRequest

        policy = BearerTokenCredentialPolicy(self.credential(), "https://management.azure.com/.default")
        try:
            http: Any = PipelineClient(base_url=operation, policies=[policy])
            with http:
                response = http.send_request(HttpRequest("GET", operation))
                error = (response.json() or {}).get("error") or {}
        except Exception:  # the reason is a courtesy: the state itself is known
            return fallback
        if not error:
            return fallback
        return f"{what} failed: {error.get('code', 'Failed')}: {error.get('message', '')}".strip()
