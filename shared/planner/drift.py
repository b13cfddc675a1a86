"""Drift: what a workspace has against what RegSync delivered and the rules still say. Pure.

Who calls it: shared.engine.drift (`regsync drift`, GET /api/drift, and the reconcile's self-heal). For
each asset name RegSync delivered to a workspace, its newest delivered version is compared with what the
reconcile's own list calls show (the workspace's latest versions, the endpoint's deployments and
traffic, the registry's latest versions): a version deleted by hand (`missing`), an older version than
`latest` says (`stale`), traffic or a batch default not on RegSync's deployment (`traffic`), RegSync's tags
changed on a copy (`tags`, only when the copies were read), a copy no rule allows any more
(`unallowed`). Each line says what RegSync would do; `heal_steps` turns the lines of rules with
`self_heal: true` into steps (queue the push again; move the traffic back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.domain import Asset, AssetKind, AssetRef, EndpointView, Workspace
from shared.ledger import transition
from shared.planner.recall import deployment_of
from shared.planner.world import S, World, answer, audit_line
from shared.policy import Effect, PushAction, PushMode, PushRule, VersionPolicy
from shared.provenance import TAG_REGISTRY_ID, TAG_TENANT
from shared.records import Action, LedgerEntry, PushMessage, Status
from shared.steps import Repromote, Step, WriteRow


class Divergence(StrEnum):
    MISSING = "missing"
    STALE = "stale"
    TRAFFIC = "traffic"
    TAGS = "tags"
    UNALLOWED = "unallowed"


@dataclass(frozen=True)
class DriftLine:
    workspace: str
    subject: str  # the delivered version, e.g. `model churn:2`
    divergence: Divergence
    found: str
    would: str  # what RegSync would do about it
    rule_id: str = ""
    heals: bool = False  # the rule opted in (`self_heal: true`) and RegSync can repair it
    asset_key: str = ""

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "workspace": self.workspace,
            "subject": self.subject,
            "divergence": self.divergence.value,
            "found": self.found,
            "would": self.would,
            "rule": self.rule_id,
            "self_heal": self.heals,
        }


@dataclass(frozen=True)
class Delivered:
    """The newest version of one name RegSync delivered to the workspace, and the rule that did it."""

    row: LedgerEntry
    ref: AssetRef
    rule: PushRule | None


@dataclass(frozen=True)
class DriftSnapshot:
    workspace: Workspace
    rows: tuple[LedgerEntry, ...]  # the workspace's push rows
    listed: Mapping[AssetKind, Mapping[str, Asset]]  # the workspace's latest version of each name
    endpoints: Mapping[str, EndpointView | None] = field(default_factory=dict)  # by endpoint name
    registry_latest: Mapping[tuple[AssetKind, str], str] = field(default_factory=dict)
    copies: Mapping[str, Asset | None] | None = None  # delivered copies as read (asset key); None: not read


def ref_of(row: LedgerEntry) -> AssetRef:
    kind, name, version = row.asset_key.split(":", 2)  # names and versions hold no ':'
    return AssetRef(kind=AssetKind(kind), name=name, version=version)


def _newer(version: str, other: str) -> bool:
    return version.isdigit() and other.isdigit() and int(version) > int(other)


def delivered(rows: Iterable[LedgerEntry], world: World) -> list[Delivered]:
    """Per (name, endpoint), the newest succeeded push: what the workspace should have now."""
    rules = {rule.id: rule for rule in world.policy.push}
    newest: dict[tuple[str, str, str], Delivered] = {}
    for row in rows:
        if row.status is not S.SUCCEEDED or row.asset_key in world.recalled:
            continue
        ref, rule = ref_of(row), rules.get(str(row.detail.get("rule", "")))
        key = (ref.kind.value, ref.name, rule.action.endpoint or "" if rule else "")
        seen = newest.get(key)
        if seen is None or _newer(ref.version, seen.ref.version):
            newest[key] = Delivered(row, ref, rule)
    return [newest[key] for key in sorted(newest)]


def plan_drift(s: DriftSnapshot, world: World) -> list[DriftLine]:
    lines: list[DriftLine] = []
    for d in delivered(s.rows, world):
        lines += _Judge(d, s, world).lines()
    return lines


def still_reaches(rule: PushRule, workspace: Workspace) -> bool:
    """Does the rule still reach the workspace (its owner, effect and targets; not the asset's tags)?"""
    return (
        rule.effect is Effect.ALLOW
        and rule.tenant in (None, workspace.tenant)
        and rule.targets.matches(workspace)
    )


@dataclass(frozen=True)
class _Judge:
    d: Delivered
    s: DriftSnapshot
    world: World

    def line(self, divergence: Divergence, found: str, would: str, *, heals: bool = False) -> DriftLine:
        rule = self.d.rule
        rule_id = rule.id if rule else str(self.d.row.detail.get("rule", ""))
        healing = heals and rule is not None and rule.self_heal
        ref = self.d.ref
        return DriftLine(self.s.workspace.name, str(ref), divergence, found, would, rule_id, healing, ref.key)

    def lines(self) -> list[DriftLine]:
        rule, ref = self.d.rule, self.d.ref
        if rule is None or not still_reaches(rule, self.s.workspace):
            found = (
                "the rule that delivered it is gone"
                if rule is None
                else f"rule {rule.id} no longer reaches it"
            )
            would = "keep it (on_remove: keep); `regsync recall` takes it back"
            return [self.line(Divergence.UNALLOWED, found, would)]
        action = rule.action
        lines = self.in_workspace() if action.mode is PushMode.REGISTER else self.on_endpoint(action)
        latest = self.s.registry_latest.get((ref.kind, ref.name), "")
        if (
            rule.version_policy is VersionPolicy.LATEST
            and _newer(latest, ref.version)
            and f"{ref.kind.value}:{ref.name}:{latest}" not in self.world.recalled
        ):
            has = "has" if action.mode is PushMode.REGISTER else "serves"
            would = f"push {latest} (the reconcile does, unless a gate or a failure holds it)"
            stale = f"{has} {ref.version}; the registry's latest is {latest}"
            lines.append(self.line(Divergence.STALE, stale, would))
        return lines

    def in_workspace(self) -> list[DriftLine]:
        ref = self.d.ref
        listed = self.s.listed.get(ref.kind, {}).get(ref.name)
        if listed is None or _newer(ref.version, listed.ref.version):
            where = "no version of it" if listed is None else f"version {listed.ref.version} as its latest"
            found = f"deleted by hand: the workspace has {where}"
            return [self.line(Divergence.MISSING, found, "push it again", heals=True)]
        if self.s.copies is None or listed.ref.version != ref.version:
            return []
        copy = self.s.copies.get(ref.key)
        tags = copy.tags if copy else {}
        if tags.get(TAG_REGISTRY_ID) != ref.registry_id(self.world.registry.name) or TAG_TENANT not in tags:
            found, would = (
                "RegSync's provenance tags were changed by hand",
                "report it: the copy's tags are its owner's",
            )
            return [self.line(Divergence.TAGS, found, would)]
        return []

    def on_endpoint(self, action: PushAction) -> list[DriftLine]:
        view = self.s.endpoints.get(action.endpoint or "")
        if view is None:
            return [
                self.line(
                    Divergence.MISSING, f"endpoint {action.endpoint} is gone", "deploy it again", heals=True
                )
            ]
        ours = deployment_of(view, self.d.ref)
        if ours is None:
            found = f"its deployment on {action.endpoint} was deleted by hand"
            return [self.line(Divergence.MISSING, found, "deploy it again", heals=True)]
        if action.mode is PushMode.DEPLOY_ONLINE:
            share = view.traffic.get(ours, 0)
            if share >= action.traffic_percent:
                return []
            wanted = action.traffic_percent
            found = f"{ours} takes {share}% of {action.endpoint}'s traffic; the rule says {wanted}%"
            return [self.line(Divergence.TRAFFIC, found, f"move the traffic back to {ours}", heals=True)]
        if view.default == ours:
            return []
        found = f"{action.endpoint}'s default is {view.default or 'none'}, not {ours}"
        return [self.line(Divergence.TRAFFIC, found, f"make {ours} the default again", heals=True)]


def heal_steps(
    lines: Iterable[DriftLine], s: DriftSnapshot, world: World, *, now: datetime, correlation_id: str
) -> list[Step]:
    """The repairs of the lines whose rule opted in: a missing copy or deployment is queued again (its
    row back to pending, a push message), traffic or a default is moved back to RegSync's deployment."""
    by_key = {(d.ref.key, d.rule.id if d.rule else ""): d for d in delivered(s.rows, world)}
    steps: list[Step] = []
    for line in lines:
        d = by_key.get((line.asset_key, line.rule_id))
        if not line.heals or d is None or d.rule is None:
            continue
        ref, target = d.ref, s.workspace
        outcome = answer(
            Action.RECONCILE, ref, target.name, Status.PENDING, f"self-heal: {line.found}; {line.would}"
        )
        audit = audit_line(outcome, correlation_id=correlation_id, tenant=target.tenant)
        if line.divergence is Divergence.TRAFFIC:
            steps.append(Repromote(outcome, target, d.rule.action, ref, audit))
            continue
        after = transition(
            d.row,
            S.PENDING,
            key=ref.key,
            target=d.row.target,
            now=now,
            message=outcome.reason,
            correlation_id=correlation_id,
        )
        message = PushMessage(
            kind=ref.kind,
            name=ref.name,
            version=ref.version,
            target=target.name,
            correlation_id=correlation_id,
        )
        steps.append(WriteRow(outcome, d.row, after, "heal", audit=audit, send=message))
    return steps
