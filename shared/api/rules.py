"""The rules routes: list, put, validate and delete rules, within the caller's rights.

Who calls it: the dispatcher (shared.api.routes), one handler per route. A tenant writes rules of its
own tenant only; the provider also writes inventory and ownership (shared.admin.apply_document).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import (
    TypeAdapter,
    ValidationError,
)

from shared.admin import apply_document
from shared.api.call import (
    ApiResponse,
    Call,
    NoQuery,
    PolicyProblemsError,
    ok,
)
from shared.auth import Caller, ForbiddenError
from shared.errors import ConflictError, InvalidInputError, NotFoundError
from shared.policy import PushRule, RuleId, ShareRule
from shared.policy_file import PolicyDocument, PolicyFileError, parse_policy
from shared.storage import StateError

# --- rules ------------------------------------------------------------------------------------------


def list_rules(call: Call) -> ApiResponse:
    """Provider: every rule. Tenant: its own rules (editable) and the provider's (read-only)."""
    call.query(NoQuery)
    policy = call.store.load_policy()
    caller = call.caller
    rules: list[ShareRule | PushRule] = [*policy.share, *policy.push]
    visible = [rule for rule in rules if caller.provider or rule.tenant in (None, caller.tenant)]
    return ok(
        {
            "rules": [
                {
                    "kind": "share" if isinstance(rule, ShareRule) else "push",
                    "editable": caller.may_act_for(rule.tenant),
                    **rule.model_dump(mode="json"),
                }
                for rule in visible
            ]
        }
    )


def put_rules(call: Call) -> ApiResponse:
    """Upsert the document's rules by id (and, for the provider, its inventory), all or nothing."""
    document = checked_document(call)
    try:
        apply_document(call.store, document)
    except StateError as error:  # an id stored as a rule of the other kind
        raise ConflictError(str(error)) from None
    ids = [rule.id for rule in (*document.share, *document.push)]
    call.audit("rules", "stored", f"{len(ids)} rules stored", subject=", ".join(ids), target=owner(call))
    return ok({"stored": ids, **counts(document)})


def validate_rules(call: Call) -> ApiResponse:
    """The same checks as PUT (including the caller's permissions), without writing."""
    return ok({"valid": True, **counts(checked_document(call))})


def delete_rule(call: Call) -> ApiResponse:
    call.query(NoQuery)
    rule_id = call.request.route_params.get("rule_id", "")
    try:
        TypeAdapter(RuleId).validate_python(rule_id)
    except ValidationError:
        raise InvalidInputError("`rule_id`: not a rule id (letters, digits, `_`, `.`, `-`)") from None
    policy = call.store.load_policy()
    rule = next((rule for rule in (*policy.share, *policy.push) if rule.id == rule_id), None)
    # Another tenant's rule is as unknown to a tenant as one that does not exist; the provider's rules
    # are visible to every tenant (read-only), so refusing those discloses nothing.
    if rule is None or (rule.tenant is not None and not call.caller.may_act_for(rule.tenant)):
        raise NotFoundError(call.caller.unseen(f"rule `{rule_id}`", "does not exist"))
    call.caller.require(rule.tenant, f"rule `{rule_id}` of {rule.owner}")
    call.store.delete_rule(rule_id)
    call.audit(
        "rules", "removed", f"rule {rule_id} removed", subject=rule_id, target=owner(call), tenant=rule.tenant
    )
    withdrawn = (
        call.engine.withdraw_rule(rule, caller=call.caller, correlation_id=call.correlation_id)
        if isinstance(rule, PushRule)
        else []
    )
    return ok({"removed": rule_id, "withdrawn": [outcome.as_dict() for outcome in withdrawn]})


def checked_document(call: Call) -> PolicyDocument:
    """The body as a policy document, validated against the store, and within the caller's rights."""
    call.query(NoQuery)
    try:
        text = call.request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("the policy document is not UTF-8 text") from None
    if not text.strip():
        raise InvalidInputError("the request body is empty: send a policy document (YAML or JSON)")
    # A tenant's document is checked against its own workspaces: another tenant's is as unknown to it
    # as one that does not exist (tenant ids stay known: audiences and from_tenants address them).
    try:
        document = parse_policy(
            text,
            source="request body",
            known_tenants=[tenant.id for tenant in call.store.list_tenants()],
            known_workspaces=call.store.list_workspaces(tenant=call.caller.tenant),
            known_ownership=call.store.load_policy().ownership,
        )
    except PolicyFileError as error:
        raise PolicyProblemsError(error.problems) from None
    if not call.caller.provider:
        policy = call.store.load_policy()
        check_tenant_document(call.caller, document, [*policy.share, *policy.push])
    return document


def check_tenant_document(
    caller: Caller, document: PolicyDocument, stored: Iterable[ShareRule | PushRule]
) -> None:
    """A tenant writes rules of its own tenant only, adds no inventory, and takes over no rule id."""
    if document.tenants or document.workspaces or document.registries or document.ownership:
        raise ForbiddenError("only the provider may write tenants, workspaces, registries or ownership")
    owners = {rule.id: rule for rule in stored}
    for rule in (*document.share, *document.push):
        if rule.tenant != caller.tenant:
            raise ForbiddenError(f"rule `{rule.id}` must name tenant `{caller.tenant}` as its tenant")
        existing = owners.get(rule.id)
        if existing is not None and existing.tenant is None:  # the provider's rules are visible to all
            raise ForbiddenError(f"rule id `{rule.id}` belongs to the provider")
        if existing is not None and existing.tenant != caller.tenant:
            # Rule ids are one namespace: that the id is taken is all a tenant learns, not by whom.
            raise ForbiddenError(f"rule id `{rule.id}` is not available: choose another id")


def owner(call: Call) -> str:
    return call.caller.tenant or "provider"


def counts(document: PolicyDocument) -> dict[str, int]:
    return {"share_rules": len(document.share), "push_rules": len(document.push)}
