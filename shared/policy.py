"""Share and push rules, and the pure decisions made from them. No I/O, no Azure import.

Who calls it: the planner (for every asset x workspace), `regsync explain`, and the HTTP pull check.

The model, in four sentences. A *share rule* says which assets of a tenant's workspaces go to the
registry; a *push rule* says which registry assets go to which workspaces and how. A rule owned by a
tenant applies only to that tenant's own workspaces; a rule without a tenant is the provider's and
applies to everyone, which is how provider rules bound tenant rules. A matching deny beats every allow,
whoever owns it; no matching allow means private (for shares) or not subscribed (for pushes). Every
decision carries its reason: the rule that decided, or why nothing could.

Names: a registry asset name (per kind) belongs to one tenant, or to the tenants the provider names
(`NameClaim`, the policy's `ownership` section); a name nobody declared belongs to the tenant RegSync
first published it for. `name_owners` says who owns a name, `NameOwners.refusal` whether a tenant may
publish under it, and `decide_push` never delivers a version whose provenance tenant does not own it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from string import Formatter
from typing import Annotated, TypeVar

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
    Registry,
    Stage,
    TenantId,
    Workspace,
    WorkspaceName,
)
from shared.provenance import TAG_TENANT

R = TypeVar("R", bound="Rule")
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
Glob = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-*?\[\]!]{1,255}$")]
TagKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-:/]{1,128}$")]
NamePrefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
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


class PushAction(Frozen):
    """What a push does in the target workspace: register the asset, or deploy a model to an endpoint."""

    mode: PushMode = PushMode.REGISTER
    endpoint: str | None = Field(default=None, pattern=r"^[a-zA-Z][a-zA-Z0-9\-]{2,31}$")
    instance_type: str = Field(default="Standard_DS3_v2", pattern=r"^[A-Za-z0-9_]{1,64}$")
    instance_count: int = Field(default=1, ge=1, le=100)
    compute: str = Field(default="cpu-cluster", pattern=r"^[A-Za-z][A-Za-z0-9\-]{1,31}$")  # batch only
    traffic_percent: int = Field(default=100, ge=0, le=100)

    @model_validator(mode="after")
    def _deployments_name_an_endpoint(self) -> PushAction:
        if self.mode is not PushMode.REGISTER and self.endpoint is None:
            raise ValueError(f"action.mode {self.mode.value} needs action.endpoint")
        return self


class PushRule(Rule):
    """Consumer side (or the provider's): which registry assets reach which workspaces, and how."""

    from_tenants: tuple[TenantId, ...] | None = None
    targets: Targets = Targets()
    action: PushAction = PushAction()
    version_policy: VersionPolicy = VersionPolicy.LATEST
    pinned_version: AssetVersion | None = None
    gate: Gate = Gate.AUTOMATIC

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


@dataclass(frozen=True)
class ShareDecision:
    allowed: bool
    reason: str
    rule_id: str | None = None
    destination: AssetRef | None = None
    audience: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PushDecision:
    allowed: bool
    reason: str
    target: str
    rule_id: str | None = None
    action: PushAction | None = None
    gate: Gate = Gate.AUTOMATIC
    version_policy: VersionPolicy = VersionPolicy.LATEST
    pinned_version: str | None = None


@dataclass(frozen=True)
class NameOwners:
    """Who owns one registry name (per kind), and on what grounds. No tenants: nobody yet, so the first
    tenant RegSync publishes it for becomes its owner. `recorded` is False when the owner was read off
    the oldest registry version (a name published before ownership existed): the plan writes it down."""

    kind: AssetKind
    name: str
    tenants: frozenset[str] = frozenset()
    basis: str = ""  # why they own it: a claim of the provider, or who published it first
    declared: bool = False
    recorded: bool = True

    def admits(self, tenant: str | None) -> bool:
        return not self.tenants or tenant in self.tenants

    def refusal(self, tenant: str | None, doing: str) -> str | None:
        """Why `tenant` may not `doing` (publish, receive) a version under the name; None if it may."""
        if self.admits(tenant):
            return None
        who = f"tenant {tenant}" if tenant else "no tenant (it has no provenance)"
        owners = ", ".join(sorted(self.tenants))
        return (
            f"registry {self.kind.value} name `{self.name}` belongs to {owners} ({self.basis}), "
            f"not to {who}: {doing}"
        )


def declared_claim(claims: Iterable[NameClaim], kind: AssetKind, name: str) -> NameClaim | None:
    """The provider's most specific claim of `name`, if any: explicit names, then the longest prefix."""
    covering = [(spec, claim) for claim in claims if (spec := claim.specificity(kind, name))]
    if not covering:
        return None
    best = max(spec for spec, _ in covering)
    return min((claim for spec, claim in covering if spec == best), key=lambda claim: claim.id)


def name_owners(
    policy: Policy, kind: AssetKind, name: str, *, recorded: str | None, first_publisher: str | None = None
) -> NameOwners:
    """Who owns `name`: the provider's claim if one covers it; else the tenant recorded as its first
    publisher; else (nothing recorded: published before ownership existed, or never) the provenance
    tenant of its oldest registry version, to be recorded; else nobody yet."""
    claim = declared_claim(policy.ownership, kind, name)
    if claim is not None:
        basis = f"declared by the provider's ownership entry `{claim.id}`"
        return NameOwners(kind, name, frozenset(claim.tenants), basis, declared=True)
    if recorded:
        return NameOwners(kind, name, frozenset({recorded}), f"first published by {recorded}")
    if first_publisher:
        basis = f"{first_publisher} published its oldest version"
        return NameOwners(kind, name, frozenset({first_publisher}), basis, recorded=False)
    return NameOwners(kind, name)


def provenance_tenant(asset: Asset) -> str | None:
    """The tenant a registry version was shared for, as RegSync stamped it (None: not shared by us)."""
    return asset.tags.get(TAG_TENANT) or None


def region_refusal(workspace: Workspace, registry: Registry) -> str | None:
    if registry.covers(workspace.region):
        return None
    regions = ", ".join(registry.regions)
    return f"workspace {workspace.name} is in {workspace.region}, outside the registry's regions [{regions}]"


def decide_share(asset: Asset, origin: Workspace, registry: Registry, policy: Policy) -> ShareDecision:
    """May `asset`, registered in `origin`, go to the registry, and under which name?"""
    refusal = region_refusal(origin, registry)
    if refusal:
        return ShareDecision(allowed=False, reason=refusal)
    matching = [rule for rule in policy.share if rule.applies_to(origin) and rule.assets.matches(asset)]
    deny = _first(matching, Effect.DENY)
    if deny:
        return ShareDecision(False, f"denied by share rule `{deny.id}` of {deny.owner}", deny.id)
    allow = _most_specific_share(matching)
    if allow is None:
        return ShareDecision(False, f"private: no share rule allows {asset.ref} from {origin.name}")
    try:
        destination = allow.destination.apply(asset.ref, origin)
    except ValueError:  # e.g. a long name plus a prefix exceeds AzureML's limit
        template = allow.destination.name
        reason = f"share rule `{allow.id}` renames {asset.ref} by `{template}` into no valid asset name"
        return ShareDecision(False, reason, allow.id)
    reason = f"shared by rule `{allow.id}` of {allow.owner} as {destination.name}:{destination.version}"
    return ShareDecision(True, reason, allow.id, destination, allow.audience)


def decide_push(
    asset: Asset,
    origin: Workspace | None,
    target: Workspace,
    registry: Registry,
    policy: Policy,
    *,
    source: Asset | None = None,
) -> PushDecision:
    """May registry `asset` (shared from `origin`, if known) go to `target`, and how?

    `asset.ref` is the registry's name and version; `source` is the asset as it is in the origin
    workspace (its own name and version, when the destination naming renamed it; `asset` by default).
    The origin's share is re-checked so that revoking a share rule stops further pushes. `origin` is None
    for assets that were put in the registry directly.
    """

    def refuse(reason: str, rule_id: str | None = None) -> PushDecision:
        return PushDecision(False, reason, target.name, rule_id)

    if origin is not None and origin.name == target.name:
        return refuse(f"{target.name} is where {asset.ref} comes from; an origin never receives its own")
    refusal = region_refusal(target, registry)
    if refusal:
        return refuse(refusal)
    if origin is not None:
        shared = decide_share(source or asset, origin, registry, policy)
        if not shared.allowed:
            return refuse(f"not shared from {origin.name}: {shared.reason}", shared.rule_id)
        # The audience limits other tenants; the origin's own tenant always belongs to it.
        if shared.audience is not None and target.tenant not in (*shared.audience, origin.tenant):
            return refuse(
                f"share rule `{shared.rule_id}` limits its audience to tenants "
                f"[{', '.join(shared.audience)}]; {target.name} belongs to {target.tenant}",
                shared.rule_id,
            )
    origin_tenant = origin.tenant if origin else None
    matching = [
        rule for rule in policy.push if rule.applies_to(target, origin_tenant) and rule.assets.matches(asset)
    ]
    deny = _first(matching, Effect.DENY)
    if deny:
        return refuse(f"denied by push rule `{deny.id}` of {deny.owner}", deny.id)
    allow = _first(matching, Effect.ALLOW)
    if allow is None:
        return refuse(f"not subscribed: no push rule sends {asset.ref} to {target.name}")
    # The strictest gate of all matching allows holds: a tenant's rule cannot bypass a provider's gate.
    gate = Gate.APPROVAL if any(rule.gate is Gate.APPROVAL for rule in matching) else allow.gate
    how = f"{allow.action.mode.value}, {gate.value}"
    return PushDecision(
        allowed=True,
        reason=f"pushed by rule `{allow.id}` of {allow.owner} ({how})",
        target=target.name,
        rule_id=allow.id,
        action=allow.action,
        gate=gate,
        version_policy=allow.version_policy,
        pinned_version=allow.pinned_version,
    )


def decide_targets(
    asset: Asset,
    origin: Workspace | None,
    workspaces: Iterable[Workspace],
    registry: Registry,
    policy: Policy,
    *,
    source: Asset | None = None,
) -> list[PushDecision]:
    """One decision per workspace, in name order: the fan-out of one registry asset."""
    ordered = sorted(workspaces, key=lambda workspace: workspace.name)
    return [decide_push(asset, origin, target, registry, policy, source=source) for target in ordered]


def pinned_versions(policy: Policy, ref: AssetRef) -> set[str]:
    """Versions of `ref`'s name that allow rules pin (other than `ref`'s): the reconcile fans them out
    besides the latest. Tags are not looked at here; the decisions for each version do that."""
    return {
        rule.pinned_version
        for rule in policy.push
        if rule.effect is Effect.ALLOW
        and rule.pinned_version is not None
        and rule.pinned_version != ref.version
        and rule.assets.names(ref)
    }


def version_wanted(decision: PushDecision, version: str, latest: str) -> bool:
    """Does the decision's version policy want `version`, given the registry's `latest` version?"""
    if decision.version_policy is VersionPolicy.PINNED:
        return version == decision.pinned_version
    if decision.version_policy is VersionPolicy.LATEST:
        return version == latest
    return True


def _first(rules: Sequence[R], effect: Effect) -> R | None:
    return next((rule for rule in sorted(rules, key=lambda rule: rule.id) if rule.effect is effect), None)


def _most_specific_share(rules: Sequence[ShareRule]) -> ShareRule | None:
    """Of the allows, the most specific wins the naming: workspace-level, then tenant, then provider."""
    allows = [rule for rule in rules if rule.effect is Effect.ALLOW]
    if not allows:
        return None
    return min(allows, key=lambda rule: (not rule.workspaces, rule.tenant is None, rule.id))
