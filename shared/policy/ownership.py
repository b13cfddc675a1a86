"""Who owns a registry asset name (per kind), and whether a tenant may publish or receive under it.

Who calls it: the engine's observation (shared.engine.core) and the planner; everyone imports it as
`shared.policy`. Pure: no I/O, no Azure import. A name belongs to the tenants the provider names in a
NameClaim (the policy's `ownership` section); a name nobody declared belongs to the tenant RegSync first
published it for. `name_owners` says who owns a name, `NameOwners.refusal` whether a tenant may
publish under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain import Asset, AssetKind
from shared.policy.rules import NameClaim, Policy
from shared.provenance import TAG_TENANT


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
