"""Share and push rules, and the pure decisions made from them. No I/O, no Azure import.

Who calls it: the planner (for every asset x workspace), `regsync explain`, and the HTTP pull check.
Everyone imports `shared.policy`; its modules are `rules` (the rules as written and the Policy of all
in force), `decisions` (share and push decisions) and `ownership` (who owns a registry name).

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

from shared.policy.decisions import (
    PushDecision,
    ShareDecision,
    decide_push,
    decide_share,
    decide_targets,
    pinned_versions,
    region_refusal,
    version_wanted,
)
from shared.policy.ownership import NameOwners, declared_claim, name_owners, provenance_tenant
from shared.policy.rules import (
    AssetSelector,
    Destination,
    Effect,
    Gate,
    NameClaim,
    OnRemove,
    Policy,
    PushAction,
    PushMode,
    PushRule,
    Rollout,
    RuleId,
    ShareRule,
    Targets,
    VersionPolicy,
    Wave,
)
from shared.policy.windows import MaintenanceWindow

__all__ = [
    "AssetSelector",
    "Destination",
    "Effect",
    "Gate",
    "MaintenanceWindow",
    "NameClaim",
    "NameOwners",
    "OnRemove",
    "Policy",
    "PushAction",
    "PushDecision",
    "PushMode",
    "PushRule",
    "Rollout",
    "RuleId",
    "ShareDecision",
    "ShareRule",
    "Targets",
    "VersionPolicy",
    "Wave",
    "decide_push",
    "decide_share",
    "decide_targets",
    "declared_claim",
    "name_owners",
    "pinned_versions",
    "provenance_tenant",
    "region_refusal",
    "version_wanted",
]
