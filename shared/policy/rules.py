"""The rules as written: share and push rules, the provider's name claims, and the Policy of all in force.

Who calls it: shared.policy_file (parsing a policy document), the storage adapter (rules as JSON), the
decisions (shared.policy.decisions, shared.policy.ownership), the API and the CLI; everyone imports it
as `shared.policy`. Pydantic models that validate themselves; no I/O, no Azure import.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from fnmatch import fnmatchcase
from string import Formatter
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from shared.domain import (
    ASSET_NAME_PATTERN,
    ASSET_VERSION_PATTERN,
    Asset,
    AssetKind,
    AssetName,
    AssetRef,
    AssetVersion,
    Frozen,
    MultiLineText,
    Stage,
    TenantId,
    Workspace,
    WorkspaceName,
)
from shared.policy.windows import DURATION_PATTERN, MaintenanceWindow, seconds_of

RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
Glob = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-*?\[\]!]{1,255}$")]
TagKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-:/]{1,128}$")]
NamePrefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
# An AzureML asset reference as a deployment YAML writes it: `azureml:NAME:VERSION` (an asset of the target
# workspace) or a registry asset id `azureml://registries/REGISTRY/KIND/NAME/versions/VERSION`.
_NAME, _VERSION = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}", r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,49}"
AssetReference = Annotated[
    str,
    StringConstraints(
        pattern=rf"^(azureml:{_NAME}:{_VERSION}|azureml://registries/[A-Za-z0-9][A-Za-z0-9_\-]{{1,32}}"
        rf"/(codes|environments)/{_NAME}/versions/{_VERSION})$"
    ),
]
ANY_VALUE = "*"
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
NAME_TEMPLATE_FIELDS = frozenset({"name", "tenant", "workspace"})
VERSION_TEMPLATE_FIELDS = frozenset({"version"})


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class PushMode(StrEnum):
    REGISTER = "register"
    DEPLOY_ONLINE = "deploy_online"
    DEPLOY_BATCH = "deploy_batch"


class VersionPolicy(StrEnum):
    LATEST = "latest"
    PINNED = "pinned"
    ALL = "all"


class OnRemove(StrEnum):
    """What happens to what a push rule delivered when the rule is removed."""

    KEEP = "keep"  # copies and deployments stay (the default)
    RECALL = "recall"  # taken back from each workspace no other rule still delivers them to


class Gate(StrEnum):
    AUTOMATIC = "automatic"
    APPROVAL = "approval"


class AssetSelector(Frozen):
    """Which assets a rule is about: kinds, name globs (include, then exclude) and tag selectors."""

    kinds: tuple[AssetKind, ...] = tuple(AssetKind)
    include: tuple[Glob, ...] = ("*",)
    exclude: tuple[Glob, ...] = ()
    tags: dict[TagKey, str] = Field(default_factory=dict)

    def names(self, ref: AssetRef) -> bool:
        """Kind and name match (tags aside)."""
        return (
            ref.kind in self.kinds
            and any(fnmatchcase(ref.name, pattern) for pattern in self.include)
            and not any(fnmatchcase(ref.name, pattern) for pattern in self.exclude)
        )

    def matches(self, asset: Asset) -> bool:
        tags = self.tags.items()
        return self.names(asset.ref) and all(
            _tag_matches(asset.tags.get(key), wanted) for key, wanted in tags
        )


def _tag_matches(actual: str | None, wanted: str) -> bool:
    return actual is not None and (wanted == ANY_VALUE or actual == wanted)


class Destination(Frozen):
    """How a shared asset is named in the registry. Fields: {name} {tenant} {workspace}; {version}."""

    name: str = Field(default="{name}", max_length=255)
    version: str = Field(default="{version}", max_length=50)

    @model_validator(mode="after")
    def _known_fields_only(self) -> Destination:
        _check_template(self.name, NAME_TEMPLATE_FIELDS, "destination.name")
        _check_template(self.version, VERSION_TEMPLATE_FIELDS, "destination.version")
        # Render with plain sample values: a template that cannot name an asset is refused now, not
        # when the first share would crash on it.
        sample = self.name.format(name="a", tenant="t", workspace="w"), self.version.format(version="1")
        if not re.match(ASSET_NAME_PATTERN, sample[0]) or not re.match(ASSET_VERSION_PATTERN, sample[1]):
            raise ValueError(
                f"destination `{self.name}`:`{self.version}` does not render a valid asset name and version"
            )
        return self

    def apply(self, ref: AssetRef, origin: Workspace) -> AssetRef:
        name = self.name.format(name=ref.name, tenant=origin.tenant, workspace=origin.name)
        return AssetRef(kind=ref.kind, name=name, version=self.version.format(version=ref.version))


def _check_template(template: str, allowed: frozenset[str], field: str) -> None:
    try:
        list(Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"{field} is not a valid template: {error}") from None
    # Whole brace contents, so conversions and format specs ({name!r}, {name:>300}) are refused too.
    unknown = set(_TEMPLATE_FIELD.findall(template)) - allowed
    if unknown:
        raise ValueError(
            f"{field} uses unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}",
        )


class Rule(Frozen):
    """What share and push rules have in common: an id, an owner and the assets they are about."""

    id: RuleId
    tenant: TenantId | None = None
    effect: Effect = Effect.ALLOW
    assets: AssetSelector = AssetSelector()
    description: MultiLineText = Field(default="", max_length=1024)

    @property
    def owner(self) -> str:
        return f"tenant {self.tenant}" if self.tenant else "the provider"


class ShareRule(Rule):
    """Publisher side: which assets of which workspaces go to the registry, named how, for whom."""

    workspaces: tuple[WorkspaceName, ...] = ()
    destination: Destination = Destination()
    audience: tuple[TenantId, ...] | None = None
    # `tenant`: the model must carry a `model.sig` signed by one of its tenant's registered keys.
    require_signature: Literal["tenant"] | None = None

    def applies_to(self, origin: Workspace) -> bool:
        return (self.tenant is None or self.tenant == origin.tenant) and (
            not self.workspaces or origin.name in self.workspaces
        )


class Targets(Frozen):
    """Which workspaces a push rule reaches; empty lists mean 'any'. All given lists must match."""

    workspaces: tuple[WorkspaceName, ...] = ()
    tenants: tuple[TenantId, ...] = ()
    stages: tuple[Stage, ...] = ()

    def matches(self, workspace: Workspace) -> bool:
        return (
            (not self.workspaces or workspace.name in self.workspaces)
            and (not self.tenants or workspace.tenant in self.tenants)
            and (not self.stages or workspace.stage in self.stages)
        )


class CodeConfiguration(Frozen):
    """A deployment's scoring code, as in AzureML's deployment YAML: a code asset and its entry script."""

    code: AssetReference
    scoring_script: str = Field(default="score.py", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*\.py$")


class PushAction(Frozen):
    """What a push does in the target workspace: register the asset, or deploy a model to an endpoint."""

    mode: PushMode = PushMode.REGISTER
    endpoint: str | None = Field(default=None, pattern=r"^[a-zA-Z][a-zA-Z0-9\-]{2,31}$")
    instance_type: str = Field(default="Standard_DS3_v2", pattern=r"^[A-Za-z0-9_]{1,64}$")
    instance_count: int = Field(default=1, ge=1, le=100)
    compute: str = Field(default="cpu-cluster", pattern=r"^[A-Za-z][A-Za-z0-9\-]{1,31}$")  # batch only
    traffic_percent: int = Field(default=100, ge=0, le=100)
    # Deployments RegSync made on the endpoint that are kept (the new one included); older ones without
    # traffic (online) or that are not the default (batch) are removed once the new one is ready.
    keep_deployments: int = Field(default=2, ge=1, le=20)
    # A custom (non-MLflow) model needs its scoring code and environment; absent, AzureML's no-code
    # deployment of an MLflow model applies.
    code_configuration: CodeConfiguration | None = None
    environment: AssetReference | None = None
    # A recall moves the endpoint back to RegSync's previous deployment; when there is none, it removes
    # the recalled deployment only if this allows it (else the deployment keeps serving, reported).
    remove_when_recalled: bool = False
    # Verify the registry copy's signature and bytes before the push; None: on for deployments only.
    verify_signature: bool | None = None

    @property
    def verifies(self) -> bool:
        return (
            self.verify_signature if self.verify_signature is not None else self.mode is not PushMode.REGISTER
        )

    @model_validator(mode="after")
    def _deployments_name_an_endpoint(self) -> PushAction:
        if self.mode is not PushMode.REGISTER and self.endpoint is None:
            raise ValueError(f"action.mode {self.mode.value} needs action.endpoint")
        if self.mode is PushMode.REGISTER and (self.code_configuration or self.environment):
            raise ValueError("action.code_configuration and action.environment are for the deploy modes")
        return self


class Wave(Frozen):
    """One wave of a rollout: the workspaces it names, of the stages or tenants it names, or the rest."""

    workspaces: tuple[WorkspaceName, ...] = ()
    stages: tuple[Stage, ...] = ()
    tenants: tuple[TenantId, ...] = ()
    rest: bool = False

    @model_validator(mode="after")
    def _names_something(self) -> Wave:
        if not (self.workspaces or self.stages or self.tenants or self.rest):
            raise ValueError("a wave names workspaces, stages or tenants, or is `rest: true`")
        return self

    def matches(self, workspace: Workspace) -> bool:
        return self.rest or Targets(
            workspaces=self.workspaces, stages=self.stages, tenants=self.tenants
        ).matches(workspace)


class Rollout(Frozen):
    """Progressive delivery of each new version: wave by wave, the next one only when every target of the
    earlier ones succeeded (deployments: ready) at least `wait_healthy` ago; a failure stops it."""

    waves: tuple[Wave, ...] = Field(min_length=1, max_length=20)
    wait_healthy: str = Field(default="0s", pattern=DURATION_PATTERN)  # e.g. 10m

    @property
    def wait_seconds(self) -> int:
        return seconds_of(self.wait_healthy)

    def wave_of(self, workspace: Workspace) -> int:
        """The first wave that takes the workspace; a workspace no wave names goes last."""
        return next((i for i, wave in enumerate(self.waves) if wave.matches(workspace)), len(self.waves))


class PushRule(Rule):
    """Consumer side (or the provider's): which registry assets reach which workspaces, and how."""

    from_tenants: tuple[TenantId, ...] | None = None
    targets: Targets = Targets()
    action: PushAction = PushAction()
    version_policy: VersionPolicy = VersionPolicy.LATEST
    pinned_version: AssetVersion | None = None
    gate: Gate = Gate.AUTOMATIC
    # Drift (shared.planner.drift): the reconcile repairs what was changed by hand (a deleted copy or
    # deployment is pushed again, traffic moved back), like Argo CD's selfHeal; false: only reported.
    self_heal: bool = False
    on_remove: OnRemove = OnRemove.KEEP
    rollout: Rollout | None = None  # None: every target at once
    # Pushes into the workspaces a window names start only while it is open (shared.planner.rollout).
    maintenance: tuple[MaintenanceWindow, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _pinned_needs_version(self) -> PushRule:
        if (self.version_policy is VersionPolicy.PINNED) != (self.pinned_version is not None):
            raise ValueError("version_policy pinned and pinned_version go together")
        if self.action.mode is not PushMode.REGISTER and AssetKind.MODEL not in self.assets.kinds:
            raise ValueError(f"action.mode {self.action.mode.value} deploys models: assets.kinds needs model")
        return self

    def applies_to(self, target: Workspace, origin_tenant: str | None) -> bool:
        own_tenant_only = self.tenant is None or self.tenant == target.tenant
        from_ok = self.from_tenants is None or origin_tenant in self.from_tenants
        return own_tenant_only and from_ok and self.targets.matches(target)


class NameClaim(Frozen):
    """The provider's word on who owns registry names: explicit names and/or name prefixes, of some
    kinds, owned by one tenant or shared by several. The most specific claim of a name decides: an
    explicit name, then the longest prefix (ties: the smaller id). It overrides who published first."""

    id: RuleId
    tenants: tuple[TenantId, ...] = Field(min_length=1)
    kinds: tuple[AssetKind, ...] = tuple(AssetKind)
    names: tuple[AssetName, ...] = ()
    prefixes: tuple[NamePrefix, ...] = ()
    description: MultiLineText = Field(default="", max_length=1024)

    @model_validator(mode="after")
    def _names_something(self) -> NameClaim:
        if not self.names and not self.prefixes:
            raise ValueError("an ownership entry names `names` or `prefixes` (or both)")
        return self

    def specificity(self, kind: AssetKind, name: str) -> tuple[int, int] | None:
        """How closely the claim covers `name`: (1, _) an explicit name, (0, length) a prefix; None: not."""
        if kind not in self.kinds:
            return None
        if name in self.names:
            return (1, len(name))
        lengths = [len(prefix) for prefix in self.prefixes if name.startswith(prefix)]
        return (0, max(lengths)) if lengths else None

    @property
    def owner(self) -> str:
        shared = len(self.tenants) > 1
        return f"{'tenants' if shared else 'tenant'} {', '.join(self.tenants)}"


class Policy(Frozen):
    """All rules in force, and the provider's ownership claims. Ids are unique across the three lists."""

    share: tuple[ShareRule, ...] = ()
    push: tuple[PushRule, ...] = ()
    ownership: tuple[NameClaim, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Policy:
        seen: set[str] = set()
        rules: tuple[ShareRule | PushRule | NameClaim, ...] = (*self.share, *self.push, *self.ownership)
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id `{rule.id}` is used twice")
            seen.add(rule.id)
        return self

    @property
    def tag_keys(self) -> frozenset[str]:
        """The asset tags any rule looks at: only a change of these can change a decision."""
        return frozenset(key for rule in (*self.share, *self.push) for key in rule.assets.tags)

    @property
    def fingerprint(self) -> str:
        """Changes whenever any rule changes: the reconcile re-judges assets judged under another one."""
        rules = sorted(rule.model_dump_json() for rule in (*self.share, *self.push, *self.ownership))
        return hashlib.sha256("\n".join(rules).encode()).hexdigest()[:16]
