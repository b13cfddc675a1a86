"""The words of RegSync as validated, immutable types: tenants, workspaces, the registry and assets.

Every layer speaks these types: the policy and the planner (pure), the storage and AzureML adapters
(I/O), the CLI and the function triggers. Validation happens here, once, so a hostile name (quotes,
OData keywords, control characters, 260+ characters) is refused at the edge with a message that says
which field is wrong, before anything is written.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.bounded import multiline, single_line

# AzureML's own limits: asset names start alphanumeric, then letters, digits, '-', '_', '.'.
ASSET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$"
ASSET_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,49}$"
# Workspace names: 3-33 characters, alphanumeric start, then letters, digits, '-' and '_'.
WORKSPACE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{2,32}$"
REGISTRY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{1,32}$"
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9\-]{0,62}$"
RESOURCE_GROUP_PATTERN = r"^[A-Za-z0-9_\-.()]{1,89}[A-Za-z0-9_\-()]$"
SUBSCRIPTION_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
REGION_PATTERN = r"^[A-Za-z0-9]{2,40}$"
STAGE_PATTERN = r"^[a-z][a-z0-9\-]{0,31}$"

AssetName = Annotated[str, StringConstraints(pattern=ASSET_NAME_PATTERN)]
AssetVersion = Annotated[str, StringConstraints(pattern=ASSET_VERSION_PATTERN)]
WorkspaceName = Annotated[str, StringConstraints(pattern=WORKSPACE_NAME_PATTERN)]
RegistryName = Annotated[str, StringConstraints(pattern=REGISTRY_NAME_PATTERN)]
TenantId = Annotated[str, StringConstraints(pattern=TENANT_ID_PATTERN)]
ResourceGroup = Annotated[str, StringConstraints(pattern=RESOURCE_GROUP_PATTERN)]
SubscriptionId = Annotated[str, StringConstraints(pattern=SUBSCRIPTION_ID_PATTERN, to_lower=True)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN, to_lower=True)]
Stage = Annotated[str, StringConstraints(pattern=STAGE_PATTERN)]
# Free text people read (display names, approvers; descriptions may span lines): no control characters,
# so that no table, log line or terminal ever receives an escape sequence from input.
OneLineText = Annotated[str, AfterValidator(single_line)]


def _public_key_pem(value: str) -> str:
    from shared.signing.keys import normalised_pem  # cryptography, loaded only when a key is read

    return normalised_pem(value)


# A publisher's ECDSA P-256 public key (PEM), stored as this code writes it (its hint is stable).
PublicKeyPem = Annotated[str, Field(max_length=4096), AfterValidator(_public_key_pem)]
MultiLineText = Annotated[str, AfterValidator(multiline)]

_WORKSPACE_TOPIC = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<workspace>[^/]+)",
    re.IGNORECASE,
)


class Frozen(BaseModel):
    """Base of every domain value: immutable, no unknown fields, validated on creation."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class AssetKind(StrEnum):
    MODEL = "model"
    ENVIRONMENT = "environment"
    COMPONENT = "component"
    DATA = "data"


class LedgerStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    DEPLOYING = "deploying"  # a deployment was started; a delayed follow-up checks it until ready/failed
    SUCCEEDED = "succeeded"  # done; for a deployment: ready and taking traffic (or the batch default)
    FAILED = "failed"
    CONFLICT = "conflict"
    AWAITING_APPROVAL = "awaiting_approval"
    REFUSED = "refused"  # the rules no longer allow it (checked again just before acting)
    RECALLED = "recalled"  # taken back by a recall (shared.planner.recall): final, never delivered again

    @property
    def final(self) -> bool:
        return self in {
            LedgerStatus.SUCCEEDED,
            LedgerStatus.FAILED,
            LedgerStatus.CONFLICT,
            LedgerStatus.REFUSED,
            LedgerStatus.RECALLED,
        }


class Provisioning(StrEnum):
    """Where an endpoint deployment stands, as AzureML says (`provisioningState`)."""

    IN_PROGRESS = "in_progress"  # the endpoint or the deployment is still Creating/Updating
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABSENT = "absent"  # nothing started yet (the endpoint was not ready when the push ran): start it


class DeploymentState(Frozen):
    """A deployment's progress: its state, Azure's reason when it failed, what was read."""

    state: Provisioning
    reason: str = ""


class Pushed(Frozen):
    """What a push did: `what` for people; `deploying` when it only started a deployment (or its endpoint),
    with `operation` the URL of Azure's long-running operation (its status carries the failure reason)."""

    what: str
    deploying: bool = False
    operation: str = ""


class ServingDeployment(Frozen):
    """One deployment on an endpoint, as RegSync reads it for a recall or a drift report."""

    name: str
    model: str = ""  # the model it serves, as its id names it (`azureml://registries/...`)
    deployed_at: str = ""  # RegSync's `regsync.deployed_at` tag; "" when RegSync did not make it
    state: str = ""  # AzureML's provisioningState


class EndpointView(Frozen):
    """An endpoint's deployments and where its traffic goes (online) or its default (batch)."""

    name: str
    traffic: dict[str, int] = Field(default_factory=dict)
    default: str | None = None
    deployments: tuple[ServingDeployment, ...] = ()


class Tenant(Frozen):
    id: TenantId
    display_name: OneLineText = Field(default="", max_length=256)
    # Public keys whose `model.sig` a share rule with `require_signature: tenant` accepts from this tenant.
    signing_keys: tuple[PublicKeyPem, ...] = Field(default=(), max_length=8)


class Workspace(Frozen):
    """An AzureML workspace managed by RegSync. Its name is RegSync's handle for it, unique here."""

    name: WorkspaceName
    tenant: TenantId
    subscription_id: SubscriptionId
    resource_group: ResourceGroup
    region: Region
    stage: Stage = "dev"

    @property
    def arm_id(self) -> str:
        """The workspace's ARM id, which is also the topic of its Event Grid events."""
        return workspace_arm_id(self.subscription_id, self.resource_group, self.name)


class Registry(Frozen):
    """The AzureML registry in the middle. The first region is the primary one."""

    name: RegistryName
    subscription_id: SubscriptionId
    resource_group: ResourceGroup
    regions: tuple[Region, ...] = Field(min_length=1)

    @property
    def primary_region(self) -> str:
        return self.regions[0]

    def covers(self, region: str) -> bool:
        return region.lower() in self.regions


class AssetRef(Frozen):
    """One version of one asset, wherever it lives."""

    kind: AssetKind
    name: AssetName
    version: AssetVersion

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # Event payloads carry versions as int or string; AzureML versions are strings.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.name}:{self.version}"

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}:{self.version}"

    def registry_id(self, registry: str) -> str:
        """The `azureml://registries/...` id by which workspaces and deployments use a registry asset."""
        plural = "data" if self.kind is AssetKind.DATA else f"{self.kind.value}s"
        return f"azureml://registries/{registry}/{plural}/{self.name}/versions/{self.version}"


class Asset(Frozen):
    """An asset version as observed somewhere, with what the policy looks at: its tags."""

    ref: AssetRef
    tags: dict[str, str] = Field(default_factory=dict)
    job_name: str | None = None


def workspace_arm_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{name}"
    )


def parse_workspace_arm_id(resource_id: str) -> tuple[str, str, str] | None:
    """(subscription, resource group, workspace name) of a workspace ARM id or of anything below it."""
    match = _WORKSPACE_TOPIC.match(resource_id)
    if match is None:
        return None
    return match["subscription"].lower(), match["group"], match["workspace"]
