"""The emulator's in-memory AzureML world and the rules Azure applies to it.

`app.py` (the HTTP routes) calls one method of `State` per request and renders what it returns; every
refusal is raised as `ArmError`, which the routes turn into Azure's `{"error": {...}}` body. Events that
a write causes are handed to the `emit` callback (`events.Dispatcher.publish`), never delivered here.

Rules (docs/emulator.md explains each choice):
- registry versions are immutable: the same content again is accepted, any other change is a 409, and a
  deleted registry version cannot be recreated; only `isArchived` (archive/restore), `tags` and
  `description` may change: content is immutable, annotations are not (as Azure's model-version update
  API states: "only description and tags can be modified");
- an existing workspace version keeps its content: only tags, description, properties, stage and
  isArchived change, a changed asset path is refused like Azure ("Asset paths cannot be updated.");
- a workspace may share to, or use assets of, a registry only when its region is one of the registry's.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.emulator.provisioning import Operation, Operations
from devstack.emulator.world import PROVIDER, Registry, Workspace, World

ASSET_KINDS = ("models", "environments", "components", "data", "codes")
EVENT_KINDS = ("models", "environments", "components", "data")
URI_FIELDS = ("modelUri", "codeUri", "dataUri")
WS_UPDATABLE = ("description", "tags", "properties", "stage", "isArchived")
REG_UPDATABLE = ("isArchived", "tags", "description")
IGNORED_ON_COMPARE = ("isArchived", "originAssetId", "isAnonymous", *URI_FIELDS)
PAGE_SIZE = 20
JOB_OUTPUT = re.compile(r"^(?:azureml://jobs/|runs:/)([^/]+)/")
REGISTRY_ASSET = re.compile(r"^azureml://registries/([^/]+)/(\w+)/([^/]+)/versions/([^/]+)$")
LOCATION_ASSET = re.compile(
    r"^azureml://locations/([^/]+)/workspaces/([^/]+)/(\w+)/([^/]+)/versions/([^/]+)$"
)
# Registry storage is served path-style at the root, one container per asset version named like Azure's
# (`{registry}-{guid}`, recordings: model/...test_create_get_download_model_registry.json), so that the
# SDK's STORAGE_URI_REGEX (azure/ai/ml/_artifacts/_constants.py) reads the container from the first segment.
REGISTRY_STORAGE = "registry-storage"
REGISTRY_CONTAINER = re.compile(r"^[a-z0-9][a-z0-9-]*-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")
DATASTORE_URI = re.compile(
    r"^azureml://subscriptions/([^/]+)/resource[gG]roups/([^/]+)/workspaces/([^/]+)/datastores/[^/]+/paths/(.+)$"
)
DEFAULTS: dict[str, dict[str, Any]] = {
    "models": {"flavors": {}, "jobName": None, "modelType": "custom_model", "stage": None},
    "environments": {"environmentType": "UserCreated", "osType": "Linux"},
    "components": {"componentSpec": {}},
    "data": {"dataType": "uri_folder"},
    "codes": {},
}

NOUN = {
    "models": "model",
    "environments": "environment",
    "components": "component",
    "data": "data",
    "codes": "code",
}
Emit = Callable[[str, dict[str, Any]], None]


class ArmError(Exception):
    """A refusal rendered as Azure's error body; `code` and `message` follow Azure's wording."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []

    def body(self) -> dict[str, Any]:
        error = {"code": self.code, "message": self.message, "details": self.details, "additionalInfo": []}
        return {"error": error}


def refused(status: int, code: str, specific: str, message: str) -> ArmError:
    """AzureML's data-plane refusal: a `UserError` whose specific code sits in `details`."""
    return ArmError(status, code, message, [{"code": specific, "message": message, "details": []}])


def registry_container(registry: str, name: str, version: str) -> str:
    """The registry storage container of one asset version: `{registry}-{guid}`, stable per version."""
    guid = uuid.uuid5(uuid.NAMESPACE_URL, f"{registry}/{name}/{version}".lower())
    return f"{registry.lower()}-{guid}"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def system_data(created: str, modified: str) -> dict[str, str]:
    return {
        "createdAt": created,
        "createdBy": "emulator-user",
        "createdByType": "User",
        "lastModifiedAt": modified,
        "lastModifiedBy": "emulator-user",
        "lastModifiedByType": "User",
    }


@dataclass
class Version:
    properties: dict[str, Any]
    created: str = field(default_factory=now_iso)
    modified: str = ""

    def __post_init__(self) -> None:
        self.modified = self.modified or self.created


@dataclass
class Container:
    properties: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    created: str = field(default_factory=now_iso)


@dataclass
class Scope:
    """A workspace or a registry: where assets live."""

    workspace: Workspace | None = None
    registry: Registry | None = None
    assets: dict[tuple[str, str], Container] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.workspace.name if self.workspace else f"registry {self.registry.name}"  # type: ignore[union-attr]

    def version_id(self, kind: str, name: str, version: str) -> str:
        if self.workspace:
            return f"{self.workspace.arm_id}/{kind}/{name}/versions/{version}"
        return f"azureml://registries/{self.registry.name}/{kind}/{name}/versions/{version}"  # type: ignore[union-attr]

    def container_id(self, kind: str, name: str) -> str:
        return self.version_id(kind, name, "x").rsplit("/versions/", 1)[0]

    def type_name(self, suffix: str) -> str:
        return f"{PROVIDER}/{'workspaces' if self.workspace else 'registries'}/{suffix}"


def strip_version_defaults(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    """The version's content as a user wrote it, for immutability comparisons."""
    return {
        k: v
        for k, v in props.items()
        if k not in IGNORED_ON_COMPARE and v not in (None, {}, []) and DEFAULTS[kind].get(k) != v
    }


def differing_field(kind: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    a, b = strip_version_defaults(kind, old), strip_version_defaults(kind, new)
    return next((k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)), None)


def job_link(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    """Azure links a model registered from a job output (azureml://jobs/J/outputs/...) to job J."""
    uri = str(props.get("modelUri") or "")
    match = JOB_OUTPUT.match(uri) if kind == "models" and not props.get("jobName") else None
    return {"jobName": match.group(1)} if match else {}


def paged(items: list[dict[str, Any]], query: dict[str, str], url: str) -> dict[str, Any]:
    """ARM paging: `{"value": [...], "nextLink": url?}` with an opaque numeric $skipToken."""
    start = int(query.get("$skipToken") or query.get("skipToken") or 0)
    top = query.get("$top") or query.get("top")
    size = min(int(top), PAGE_SIZE) if top else PAGE_SIZE
    page: dict[str, Any] = {"value": items[start : start + size]}
    if top is None and start + size < len(items):
        rest = "&".join(f"{k}={v}" for k, v in query.items() if k not in ("$skipToken", "skipToken"))
        page["nextLink"] = f"{url}?{rest}&$skipToken={start + size}".replace("?&", "?")
    return page


def view_filter(query: dict[str, str]) -> Callable[[bool], bool]:
    """listViewType ActiveOnly (default; also the SDK's `ListViewType.ACTIVE_ONLY`), ArchivedOnly or All."""
    view = (query.get("listViewType") or "ActiveOnly").lower().replace("_", "").replace("listviewtype.", "")
    if view == "all":
        return lambda archived: True
    if view == "archivedonly":
        return lambda archived: archived
    return lambda archived: not archived


class State:
    """Every workspace's and registry's assets and endpoints, plus blobs and pending operations."""

    def __init__(self, world: World, base_url: str, emit: Emit, speed: float = 1.0) -> None:
        self.base_url, self.emit = base_url, emit
        self.workspaces = {
            (w.subscription.lower(), w.resource_group.lower(), w.name.lower()): w for w in world.workspaces
        }
        self.registries = {r.name.lower(): r for r in world.registries}
        self.scopes: dict[str, Scope] = {
            f"ws:{w.arm_id.lower()}": Scope(workspace=w) for w in world.workspaces
        }
        self.scopes |= {f"reg:{r.name.lower()}": Scope(registry=r) for r in world.registries}
        self.blobs: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.ops = Operations(speed, world.provisioning)
        self.denied: set[tuple[str, str]] = {
            (r.name.lower(), w.lower()) for r in world.registries for w in r.denied_workspaces
        }

    # -- scopes -------------------------------------------------------------------------------------
    def workspace_scope(self, sub: str, rg: str, name: str) -> Scope:
        ws = self.workspaces.get((sub.lower(), rg.lower(), name.lower()))
        if ws is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{PROVIDER}/workspaces/{name}' under resource group '{rg}' was not found.",
            )
        return self.scopes[f"ws:{ws.arm_id.lower()}"]

    def workspace_named(self, name: str) -> Workspace:
        found = [w for w in self.workspaces.values() if w.name.lower() == name.lower()]
        if len(found) != 1:
            raise ValueError(f"no single workspace named {name}")
        return found[0]

    def registry_scope(self, name: str) -> Scope:
        if name.lower() not in self.registries:
            raise ArmError(404, "ResourceNotFound", f"Registry {name} not found.")
        return self.scopes[f"reg:{name.lower()}"]

    def registry(self, name: str) -> Registry:
        return self.registry_scope(name).registry  # type: ignore[return-value]

    def check_registry_access(self, ws: Workspace, registry_name: str, action: str) -> Registry:
        """Refuse a workspace the registry does not admit (denied, or outside its regions) with 403."""
        registry = self.registry(registry_name)
        if (registry.name.lower(), ws.name.lower()) in self.denied:
            raise refused(
                403,
                "UserError",
                "UnAuthorizedRegistryAccess",
                f"User/tenant/subscription is not allowed to access registry {registry.name}: workspace "
                f"{ws.name} cannot {action} it.",
            )
        if ws.region.lower() not in (r.lower() for r in registry.regions):
            raise refused(
                403,
                "UserError",
                "UnAuthorizedRegistryAccess",
                f"Workspace {ws.name} in region {ws.region} cannot {action} registry {registry.name}: the "
                f"registry is not replicated to {ws.region} (regions: {', '.join(registry.regions)}).",
            )
        return registry

    def resolve_registry_asset(self, ws: Workspace, asset_id: str, action: str) -> Version:
        """Check that `ws` may use the registry asset `azureml://registries/R/kind/N/versions/V`."""
        match = REGISTRY_ASSET.match(asset_id)
        if not match:
            raise ArmError(400, "UserError", f"Malformed registry asset id: {asset_id}")
        registry_name, kind, name, version = match.groups()
        self.check_registry_access(ws, registry_name, action)
        found = self.registry_scope(registry_name).assets.get((kind, name))
        if found is None or version not in found.versions:
            raise ArmError(404, "UserError", f"Could not find asset with ID: {asset_id}")
        return found.versions[version]

    # -- rendering ----------------------------------------------------------------------------------
    def render_version(
        self, scope: Scope, kind: str, name: str, version: str, item: Version
    ) -> dict[str, Any]:
        return {
            "id": scope.version_id(kind, name, version),
            "name": version,
            "type": scope.type_name(f"{kind}/versions"),
            "properties": item.properties,
            "systemData": system_data(item.created, item.modified),
        }

    def render_container(self, scope: Scope, kind: str, name: str, box: Container) -> dict[str, Any]:
        latest = max(box.versions.items(), key=lambda kv: kv[1].created)[0] if box.versions else None
        nxt = str(int(latest) + 1) if latest and latest.isdigit() else ("1" if latest is None else None)
        props = {"description": None, "tags": {}, "properties": {}, "isArchived": False} | box.properties
        return {
            "id": scope.container_id(kind, name),
            "name": name,
            "type": scope.type_name(kind),
            "properties": props | {"latestVersion": latest, "nextVersion": nxt},
            "systemData": system_data(box.created, box.created),
        }

    # -- reads --------------------------------------------------------------------------------------
    def get_version(self, scope: Scope, kind: str, name: str, version: str) -> dict[str, Any]:
        box = scope.assets.get((kind, name))
        if box is None or version not in box.versions:
            raise ArmError(
                404, "UserError", f"Could not find asset with ID: {scope.version_id(kind, name, version)}"
            )
        return self.render_version(scope, kind, name, version, box.versions[version])

    def list_versions(
        self, scope: Scope, kind: str, name: str, query: dict[str, str], url: str
    ) -> dict[str, Any]:
        box = scope.assets.get((kind, name)) or Container()
        keep = view_filter(query)
        items = [(v, it) for v, it in box.versions.items() if keep(bool(it.properties.get("isArchived")))]
        order = (query.get("$orderBy") or query.get("orderBy") or "createdtime desc").lower()
        items.sort(key=lambda kv: kv[1].created, reverse=order.endswith("desc"))
        rendered = [self.render_version(scope, kind, name, v, it) for v, it in items]
        return paged(rendered, query, url)

    def get_container(self, scope: Scope, kind: str, name: str) -> dict[str, Any]:
        box = scope.assets.get((kind, name))
        if box is None:
            raise ArmError(
                404, "UserError", f"Could not find asset with ID: {scope.container_id(kind, name)}"
            )
        return self.render_container(scope, kind, name, box)

    def list_containers(self, scope: Scope, kind: str, query: dict[str, str], url: str) -> dict[str, Any]:
        keep = view_filter(query)
        items = [
            self.render_container(scope, k, n, box)
            for (k, n), box in sorted(scope.assets.items())
            if k == kind and box.versions and keep(bool(box.properties.get("isArchived")))
        ]
        return paged(items, query, url)

    # -- writes -------------------------------------------------------------------------------------
    def put_container(self, scope: Scope, kind: str, name: str, props: dict[str, Any]) -> dict[str, Any]:
        box = scope.assets.setdefault((kind, name), Container())
        box.properties |= {
            k: props[k] for k in ("description", "tags", "properties", "isArchived") if k in props
        }
        for item in box.versions.values():
            if "isArchived" in props:
                item.properties["isArchived"] = bool(props["isArchived"])
        return self.render_container(scope, kind, name, box)

    def put_version(
        self, scope: Scope, kind: str, name: str, version: str, props: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Create or update one version; return (HTTP status, rendered version)."""
        if kind not in ASSET_KINDS:
            raise ArmError(404, "NoSuchRoute", f"Unknown asset kind {kind}")
        if scope.workspace:
            self.check_workspace_references(scope.workspace, kind, props)
        box = scope.assets.setdefault((kind, name), Container())
        existing = box.versions.get(version)
        if scope.registry:
            self.check_registry_write(scope, kind, name, version, box, props)
        if existing is not None:
            self.update_existing(scope, kind, name, version, existing, props)
            return 200, self.render_version(scope, kind, name, version, existing)
        full: dict[str, Any] = {
            "description": None,
            "tags": {},
            "properties": {},
            "isArchived": False,
            "isAnonymous": False,
        }
        full |= DEFAULTS[kind] | ({"originAssetId": None} if scope.registry and kind == "models" else {})
        box.versions[version] = Version(full | props | job_link(kind, props))
        self.after_write(scope, kind, name, version, created=True)
        return 201, self.render_version(scope, kind, name, version, box.versions[version])

    def check_new_registry_version(self, scope: Scope, name: str, version: str) -> None:
        """tempdatarefs for a registry version that exists: 409, so the SDK skips the upload."""
        for (kind, asset), box in scope.assets.items():
            if asset == name and (version in box.versions or version in box.deleted):
                raise ArmError(
                    409,
                    "UserError",
                    f"Asset already exists: {scope.version_id(kind, name, version)}. Registry assets are "
                    "immutable: upload new content as a new version.",
                    [{"code": "AssetAlreadyExists", "message": "Asset already exists", "details": []}],
                )

    def check_registry_write(
        self, scope: Scope, kind: str, name: str, version: str, box: Container, props: dict[str, Any]
    ) -> None:
        asset_id = scope.version_id(kind, name, version)
        if version in box.deleted:
            raise ArmError(409, "Conflict", f"Asset {asset_id} was deleted and cannot be recreated.")
        existing = box.versions.get(version)
        if existing is None:
            return
        annotations = set(REG_UPDATABLE)
        # The SDK re-sends a registry model without its jobName (the lineage is read-only there): an
        # omitted jobName keeps the stored one rather than counting as a change.
        carried = {
            k: existing.properties[k]
            for k in ("jobName",)
            if props.get(k) is None and k in existing.properties
        }
        changed = differing_field(
            kind,
            {k: v for k, v in existing.properties.items() if k not in annotations},
            {k: v for k, v in (props | carried).items() if k not in annotations},
        )
        uri = next((f for f in URI_FIELDS if f in props and props[f] != existing.properties.get(f)), None)
        if changed or (uri and "originAssetId" not in props):
            raise ArmError(
                409,
                "Conflict",
                f"Value of property {changed or uri} for {NOUN[kind]} {name}:{version} cannot be replaced "
                "without increasing the version: registry assets are immutable.",
            )

    def update_existing(
        self, scope: Scope, kind: str, name: str, version: str, item: Version, props: dict[str, Any]
    ) -> None:
        if scope.workspace:
            for f in URI_FIELDS:
                if f in props and props[f] and props[f] != item.properties.get(f):
                    raise ArmError(400, "UserError", "Asset paths cannot be updated.")
        allowed = WS_UPDATABLE if scope.workspace else REG_UPDATABLE
        item.properties |= {k: props[k] for k in allowed if k in props}
        item.modified = now_iso()
        self.after_write(scope, kind, name, version, created=False)

    def check_workspace_references(self, ws: Workspace, kind: str, props: dict[str, Any]) -> None:
        """A workspace version pointing at a registry asset needs the registry to cover its region."""
        uri = props.get("modelUri") if kind == "models" else None
        if isinstance(uri, str) and uri.startswith("azureml://registries/"):
            self.resolve_registry_asset(ws, uri, "use assets of")

    def delete_version(self, scope: Scope, kind: str, name: str, version: str) -> None:
        box = scope.assets.get((kind, name))
        if box is None or version not in box.versions:
            raise ArmError(
                404, "UserError", f"Could not find asset with ID: {scope.version_id(kind, name, version)}"
            )
        del box.versions[version]
        if scope.registry:
            box.deleted.add(version)
        elif kind in EVENT_KINDS:
            self.emit(
                "delete", {"workspace": scope.workspace, "kind": kind, "name": name, "version": version}
            )

    def after_write(self, scope: Scope, kind: str, name: str, version: str, *, created: bool) -> None:
        """Workspace writes raise the events Azure would; registry writes raise none."""
        if scope.workspace is None or kind not in EVENT_KINDS:
            return
        item = scope.assets[(kind, name)].versions[version]
        self.emit("write", {"workspace": scope.workspace, "kind": kind, "name": name, "version": version})
        if created and kind == "models":
            self.emit(
                "model",
                {
                    "workspace": scope.workspace,
                    "name": name,
                    "version": version,
                    "tags": item.properties.get("tags") or {},
                    "properties": item.properties.get("properties") or {},
                },
            )

    # -- share (registry import) ---------------------------------------------------------------------
    def import_asset(self, registry_scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
        """Copy a workspace asset into the registry, keeping its source; returns the registry version."""
        props = body.get("properties") or body
        source = str(props.get("sourceAssetId", ""))
        match = LOCATION_ASSET.match(source)
        if not match:
            raise ArmError(400, "UserError", f"Invalid sourceAssetId: {source}")
        _location, ws_guid, kind, name, version = match.groups()
        ws = next((w for w in self.workspaces.values() if w.workspace_id == ws_guid), None)
        if ws is None:
            raise ArmError(404, "UserError", f"Could not find asset with ID: {source}")
        registry = registry_scope.registry
        assert registry is not None
        self.check_registry_access(ws, registry.name, "share to")
        src_scope = self.scopes[f"ws:{ws.arm_id.lower()}"]
        src = src_scope.assets.get((kind, name))
        if src is None or version not in src.versions:
            raise ArmError(404, "UserError", f"Could not find asset with ID: {source}")
        dest_name = props.get("destinationName") or name
        dest_version = str(props.get("destinationVersion") or version)
        copied = dict(src.versions[version].properties) | {"originAssetId": source, "isArchived": False}
        copies: list[tuple[str, str]] = []
        for f in URI_FIELDS:
            if f in copied:
                # The registry keeps its own copy of the files (Azure copies them into the registry's
                # storage account when it shares), under the source's folder name.
                source_prefix = self.blob_prefix(str(copied[f]))
                folder = (source_prefix or "").rstrip("/").rsplit("/", 1)[-1] or dest_version
                container = registry_container(registry.name, dest_name, dest_version)
                copied[f] = f"{self.base_url}/{container}/{folder}"
                if source_prefix is not None:
                    copies.append((source_prefix, f"{REGISTRY_STORAGE}/{container}/{folder}"))
        status, rendered = self.put_version(registry_scope, kind, dest_name, dest_version, copied)
        if status == 201:  # a share of an existing version copies nothing again
            for source_prefix, dest_prefix in copies:
                self.copy_blobs(source_prefix, dest_prefix)
        return rendered

    def blob_prefix(self, uri: str) -> str | None:
        """The blob-store key prefix (`account/container/path`) behind a datastore or blob URI."""
        match = DATASTORE_URI.match(uri)
        if match:
            sub, rg, ws_name, path = match.groups()
            ws = self.workspaces.get((sub.lower(), rg.lower(), ws_name.lower()))
            if ws is None:
                return None
            return f"{ws.name}/azureml-blobstore-{ws.workspace_id}/{path}"
        marker = self.base_url + "/blob/"
        if uri.startswith(marker):
            return uri[len(marker) :].split("?", 1)[0]
        if uri.startswith(self.base_url + "/"):
            path = uri[len(self.base_url) + 1 :].split("?", 1)[0]
            if REGISTRY_CONTAINER.match(path.split("/", 1)[0]):
                return f"{REGISTRY_STORAGE}/{path}"
        return None

    def copy_blobs(self, source_prefix: str, dest_prefix: str) -> None:
        """Copy one file (the prefix itself) or every file under a folder prefix to `dest_prefix`."""
        source = source_prefix.rstrip("/")
        for key, blob in list(self.blobs.items()):
            if key == source:
                self.blobs[dest_prefix] = blob
            elif key.startswith(source + "/"):
                self.blobs[f"{dest_prefix}/{key[len(source) + 1 :]}"] = blob

    # -- endpoints and deployments -------------------------------------------------------------------
    def resource_key(self, scope: Scope, path: str) -> str:
        assert scope.workspace is not None
        return f"{scope.workspace.arm_id}/{path}".lower()

    def operation_location(self, ws: Workspace) -> str:
        return f"/subscriptions/{ws.subscription}/providers/{PROVIDER}/locations/{ws.region}"

    def put_resource(
        self, scope: Scope, path: str, body: dict[str, Any], defaults: dict[str, Any]
    ) -> tuple[int, dict[str, Any], Operation]:
        """Create or replace an endpoint or deployment (`path` like `onlineEndpoints/e/deployments/d`).

        It answers at once in `Creating`/`Updating` and reaches `Succeeded` (or an injected `Failed`)
        when its operation ends."""
        ws = scope.workspace
        assert ws is not None
        self.check_deployment_model(ws, body.get("properties") or {})
        parent = path.rsplit("/", 2)[0] if path.count("/") >= 2 else None
        if parent and (parent not in scope.resources or self.is_deleting(scope, parent)):
            raise self.not_found(scope, parent)
        key = self.resource_key(scope, path)
        if self.ops.in_progress(key):
            raise ArmError(
                409,
                "Conflict",
                f"An operation is already in progress on {path.rsplit('/', 1)[-1]}; wait for it to finish.",
            )
        existing = scope.resources.get(path)
        created = existing["systemData"]["createdAt"] if existing else now_iso()
        kind = re.sub(r"/[^/]+(?=/|$)", "", path)
        state = "Updating" if existing else "Creating"
        props = defaults | (body.get("properties") or {}) | {"provisioningState": state}
        resource = {
            "id": f"{ws.arm_id}/{path}",
            "name": path.rsplit("/", 1)[-1],
            "type": f"{PROVIDER}/workspaces/{kind}",
            "location": body.get("location") or ws.region,
            "tags": body.get("tags") or {},
            "properties": props,
            "systemData": system_data(created, now_iso()),
        } | {k: body[k] for k in ("identity", "kind", "sku") if k in body}
        scope.resources[path] = resource

        def done(status: str) -> None:
            if scope.resources.get(path) is resource:
                resource["properties"]["provisioningState"] = status
                resource["systemData"]["lastModifiedAt"] = now_iso()

        names = {"ws": ws.name, "sub": ws.subscription, "instance": str(props.get("instanceType") or "")}
        kind_of_op = "deployment" if "/deployments/" in path else "endpoint"
        op = self.ops.start(key, kind_of_op, self.operation_location(ws), done, names)
        return (200 if existing else 201), resource, op

    def check_deployment_model(self, ws: Workspace, props: dict[str, Any]) -> None:
        model = props.get("model")
        asset_id = model.get("assetId") if isinstance(model, dict) else model
        if isinstance(asset_id, str) and asset_id.startswith("azureml://registries/"):
            self.resolve_registry_asset(ws, asset_id, "deploy assets of")

    def is_deleting(self, scope: Scope, path: str) -> bool:
        found = scope.resources.get(path)
        return bool(found and found["properties"].get("provisioningState") == "Deleting")

    def not_found(self, scope: Scope, path: str) -> ArmError:
        """ARM's 404 for endpoints and deployments: `NotFound` with a detail naming what is missing."""
        parts = path.split("/")
        what = "Online endpoint" if parts[0] == "onlineEndpoints" else "Batch endpoint"
        detail = f"{what} {parts[1]} was not found in workspace {scope.label}."
        if len(parts) > 2:
            detail = f"Deployment {parts[3]} was not found in endpoint {parts[1]} of workspace {scope.label}."
        return ArmError(
            404,
            "NotFound",
            "The specified resource was not found.",
            [{"code": "NotFound", "message": detail, "target": path, "details": []}],
        )

    def get_resource(self, scope: Scope, path: str) -> dict[str, Any]:
        self.ops.settle()
        if path not in scope.resources:
            raise self.not_found(scope, path)
        return scope.resources[path]

    def list_resources(self, scope: Scope, prefix: str, query: dict[str, str], url: str) -> dict[str, Any]:
        self.ops.settle()
        if prefix.count("/") == 2 and prefix.rsplit("/", 1)[0] not in scope.resources:
            raise self.not_found(scope, prefix.rsplit("/", 1)[0])
        depth = prefix.count("/") + 1
        items = [
            r
            for p, r in sorted(scope.resources.items())
            if p.startswith(prefix + "/") and p.count("/") == depth
        ]
        return paged(items, query, url)

    def delete_resource(self, scope: Scope, path: str) -> Operation | None:
        """Start deleting (`Deleting`, gone when the operation ends); None when there is nothing."""
        self.ops.settle()
        found = scope.resources.get(path)
        if found is None:
            return None
        key = self.resource_key(scope, path)
        if self.ops.in_progress(key) and not self.is_deleting(scope, path):
            raise ArmError(
                409,
                "Conflict",
                f"An operation is already in progress on {path.rsplit('/', 1)[-1]}; wait for it to finish.",
            )
        found["properties"]["provisioningState"] = "Deleting"

        def done(status: str) -> None:
            scope.resources.pop(path, None)
            for child in [p for p in scope.resources if p.startswith(path + "/")]:
                del scope.resources[child]

        ws = scope.workspace
        assert ws is not None
        kind = "deployment" if "/deployments/" in path else "endpoint"
        return self.ops.start(key, kind, self.operation_location(ws), done, {}, deleting=True)

    # -- long-running operations ---------------------------------------------------------------------
    def new_operation(self, result: dict[str, Any] | None = None) -> str:
        return self.ops.finished(result)

    # -- dump ------------------------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        """Every scope's assets and endpoints, for tests, benchmarks and the demo."""
        out: dict[str, Any] = {"workspaces": {}, "registries": {}}
        for scope in self.scopes.values():
            assets: dict[str, Any] = {}
            for (kind, name), box in sorted(scope.assets.items()):
                versions = {
                    v: {
                        "tags": it.properties.get("tags") or {},
                        "properties": it.properties.get("properties") or {},
                        "isArchived": bool(it.properties.get("isArchived")),
                        "originAssetId": it.properties.get("originAssetId"),
                        "jobName": it.properties.get("jobName"),
                    }
                    for v, it in box.versions.items()
                }
                assets.setdefault(kind, {})[name] = versions
            entry = {"assets": assets, "resources": sorted(scope.resources)}
            if scope.workspace:
                out["workspaces"][scope.workspace.name] = entry | {"region": scope.workspace.region}
            else:
                out["registries"][scope.registry.name] = entry  # type: ignore[union-attr]
        return out
