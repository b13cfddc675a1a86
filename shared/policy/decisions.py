"""The decisions made from the rules: may an asset be shared, may it be pushed to a workspace, and how.

Who calls it: the planner (for every asset x workspace), the reconcile (pinned versions, regions),
`regsync explain` and the HTTP pull check; everyone imports it as `shared.policy`. Pure: no I/O, no
Azure import. A matching deny beats every allow, whoever owns it; no matching allow means private (for
shares) or not subscribed (for pushes). Every decision carries its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from shared.domain import Asset, AssetRef, Registry, Window, Workspace
from shared.policy.rules import Effect, Gate, Policy, PushAction, Rollout, Rule, ShareRule, VersionPolicy
from shared.policy.windows import MaintenanceWindow

R = TypeVar("R", bound=Rule)


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
    rollout: Rollout | None = None  # the allowing rule's waves (shared.planner.rollout)
    wave: int = 0  # the target's wave in it
    windows: tuple[MaintenanceWindow, ...] = ()  # the rule's windows naming the target: pushes start in them
    workspace_windows: tuple[Window, ...] = ()  # the target's own (its workspace entry's): and in these
    # The rule's targets in earlier waves (workspace, wave), judged over every workspace of the world, so
    # that a fan-out narrowed to a later-wave target still waits for them (shared.planner.rollout).
    earlier_waves: tuple[tuple[str, int], ...] = ()


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
        rollout=allow.rollout,
        wave=allow.rollout.wave_of(target) if allow.rollout else 0,
        windows=tuple(window for window in allow.maintenance if window.matches(target)),
        workspace_windows=target.maintenance,
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
