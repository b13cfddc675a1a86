"""What the rules ask of signatures (docs/provenance.md). Pure.

Who calls it: plan_share (the share rule's `require_signature`) and plan_push (the push rule's
`action.verify_signature`, on by default for deployments). Only models are signed, so only they are
verified; apply does the verifying (it reads), through shared.signing.notary.
"""

from __future__ import annotations

from shared.domain import AssetKind, AssetRef
from shared.policy import Policy, PushAction


def required_signature(policy: Policy, rule_id: str | None) -> str | None:
    """The signature the allowing share rule requires of the publisher (`tenant`), or None."""
    rule = next((rule for rule in policy.share if rule.id == rule_id), None)
    return rule.require_signature if rule is not None else None


def must_verify(action: PushAction, ref: AssetRef) -> bool:
    return ref.kind is AssetKind.MODEL and action.verifies
