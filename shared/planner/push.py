"""Planning one queued push (check the rules again, push or refuse), settling it after its AzureML
call, and releasing a push that waits for approval. Pure.

Who calls it: shared.engine.pushes, shared.engine.apply and shared.engine.requests (approve).
"""

from __future__ import annotations

from datetime import datetime

from shared.domain import Asset, AssetRef, DeploymentState, Provisioning, Pushed, Workspace
from shared.errors import Failure, Kind
from shared.ledger import abandoned, lease_left_seconds, transition
from shared.planner.fanout import decide_fanout
from shared.planner.verify import must_verify
from shared.planner.world import S, World, answer, audit_line, outbound_event
from shared.policy import (
    NameOwners,
    PushDecision,
)
from shared.provenance import carried_tags
from shared.records import (
    ASSET_PUSHED,
    PUSH_FAILED,
    Action,
    LedgerEntry,
    PushMessage,
    Status,
    push_target,
)
from shared.steps import Defer, Follow, Push, Report, Settlement, Step, WriteRow


def plan_push_before_observing(
    message: PushMessage, row: LedgerEntry | None, *, now: datetime
) -> Step | None:
    """What a push message needs without asking AzureML: nothing (done, held, failed for this round;
    a watch whose claim settled), or a later try (another worker holds the row: when its lease runs
    out). None: observe and `plan_push`."""
    ref, target = message.ref, message.target
    if message.watch and (row is None or row.status is not S.RUNNING):
        status = Status.of(row.status) if row else Status.SKIPPED
        return Report(answer(Action.PUSH, ref, target, status, "watched claim settled: nothing to take over"))
    if row is None or row.status in {S.PENDING, S.RETRYING, S.REFUSED} or abandoned(row, now):
        return None
    if row.status is S.DEPLOYING and message.follow and message.follow == row.detail.get("checks"):
        return None  # this check is the row's current one: observe and `plan_push` (a Follow)
    if row.status is S.DEPLOYING:
        reason = f"deploying: {row.message}; its own follow-up checks it"
        return Report(answer(Action.PUSH, ref, target, Status.DEPLOYING, reason))
    if row.status is S.RUNNING:
        reason = f"push of {ref} to {target} is running elsewhere; tried again later"
        # Looked at again when its lease runs out: taken over then if its worker crashed.
        return Defer(
            answer(Action.PUSH, ref, target, Status.SKIPPED, reason), message, lease_left_seconds(row, now)
        )
    return Report(
        answer(Action.PUSH, ref, target, Status.of(row.status), f"nothing to do: {row.status.value}")
    )


def plan_push(
    message: PushMessage,
    row: LedgerEntry | None,
    *,
    asset: Asset | None,
    owners: NameOwners | None,
    target: Workspace | None,
    world: World,
    now: datetime,
) -> Step:
    """Check the rules (and who owns the name) again just before acting: push, or record the refusal."""
    ref = message.ref
    if target is None:
        decision = PushDecision(
            False, f"workspace {message.target} is no longer managed by RegSync", message.target
        )
    elif asset is None or owners is None:
        decision = PushDecision(False, f"{ref} is not in registry {world.registry.name}", message.target)
    else:
        decision = decide_fanout(asset, world, [target], owners=owners)[0]
    if not decision.allowed or decision.action is None or target is None or asset is None:
        outcome = answer(Action.PUSH, ref, message.target, Status.REFUSED, decision.reason)
        after = transition(
            row,
            S.REFUSED,
            key=ref.key,
            target=push_target(message.target),
            now=now,
            message=decision.reason,
            correlation_id=message.correlation_id,
        )
        tenant = target.tenant if target else None
        audit = audit_line(outcome, correlation_id=message.correlation_id, tenant=tenant)
        return WriteRow(outcome, row, after, "refuse", audit=audit)
    tags = carried_tags(asset.tags, message.correlation_id)
    if row is not None and row.status is S.DEPLOYING:
        checking = answer(Action.PUSH, ref, target.name, Status.DEPLOYING, f"checking: {row.message}")
        return Follow(checking, message, row, target, world.registry, decision.action, tags)
    planned = answer(Action.PUSH, ref, target.name, Status.SUCCEEDED, decision.reason)
    return Push(
        planned,
        message,
        row,
        target,
        world.registry,
        decision.action,
        tags,
        decision.rule_id or "",
        verify=must_verify(decision.action, ref),
    )


def settle_push(
    step: Push,
    claimed: LedgerEntry,
    failure: Failure | None,
    pushed: Pushed | None,
    *,
    max_attempts: int,
    now: datetime,
    poll_seconds: int = 30,
) -> Settlement:
    """The push row after the AzureML call. A started deployment is `deploying`, with its first check
    queued `poll_seconds` later. A temporary failure is sent again after the delay AzureML asked for
    until `max_attempts` (counted in the message); then, or on a permanent failure, the push fails for
    good, once, with one audit record and one PushFailed event. A conflict is final."""
    message, ref, target = step.message, step.message.ref, step.target.name
    cid = message.correlation_id
    data = {"asset": ref.key, "target": target, "correlation_id": cid}
    what = pushed.what if pushed is not None else ""
    if failure is None and pushed is not None and pushed.deploying:
        outcome = answer(Action.PUSH, ref, target, Status.DEPLOYING, what)
        detail = {"operation": pushed.operation, "checks": 1}
        row = transition(
            claimed, S.DEPLOYING, key=ref.key, target=claimed.target, now=now, message=what, detail=detail
        )
        check = message.model_copy(update={"follow": 1, "attempt": 1})
        return Settlement(outcome, row, resend=check, delay_seconds=poll_seconds)
    if failure is None:
        outcome = answer(Action.PUSH, ref, target, Status.SUCCEEDED, what)
        row = transition(claimed, S.SUCCEEDED, key=ref.key, target=claimed.target, now=now, message=what)
        return Settlement(
            outcome,
            row,
            audit_line(outcome, correlation_id=cid, tenant=step.target.tenant),
            outbound_event(ASSET_PUSHED, ref, {**data, "what": what}),
        )
    if failure.retryable and message.attempt < max_attempts:
        delay = max(1, round(failure.retry_after))
        reason = f"{failure.message}; attempt {message.attempt} of {max_attempts}, next in {delay} s"
        outcome = answer(Action.PUSH, ref, target, Status.RETRYING, reason)
        row = transition(claimed, S.RETRYING, key=ref.key, target=claimed.target, now=now, message=reason)
        resend = message.model_copy(update={"attempt": message.attempt + 1})
        return Settlement(outcome, row, resend=resend, delay_seconds=delay)
    if failure.kind is Kind.CONFLICT:
        outcome = answer(Action.PUSH, ref, target, Status.CONFLICT, failure.message)
        row = transition(
            claimed, S.CONFLICT, key=ref.key, target=claimed.target, now=now, message=failure.message
        )
        return Settlement(outcome, row, audit_line(outcome, correlation_id=cid, tenant=step.target.tenant))
    reason = (
        f"gave up after {message.attempt} attempts: {failure.message}"
        if failure.retryable
        else failure.message
    )
    outcome = answer(Action.PUSH, ref, target, Status.FAILED, reason)
    row = transition(claimed, S.FAILED, key=ref.key, target=claimed.target, now=now, message=reason)
    return Settlement(
        outcome,
        row,
        audit_line(outcome, correlation_id=cid, tenant=step.target.tenant),
        outbound_event(PUSH_FAILED, ref, {**data, "error": reason}),
    )


def settle_follow(
    step: Follow,
    state: DeploymentState | None,
    done: str,
    failure: Failure | None,
    *,
    now: datetime,
    poll_seconds: int,
    deadline_seconds: int,
    restarted: Pushed | None = None,
) -> Settlement:
    """A started deployment's row after one check. Ready (traffic moved: `done` says how) -> succeeded;
    Azure says failed -> failed with its reason (traffic never moved, so the old deployment serves);
    still provisioning, (re)started, or a temporary error reading it -> deploying and checked again
    `poll_seconds` later, unless `deadline_seconds` have passed since the push started it -> failed."""
    message, row, ref, target = step.message, step.row, step.message.ref, step.target.name
    cid = message.correlation_id
    data = {"asset": ref.key, "target": target, "correlation_id": cid}

    def failed(reason: str) -> Settlement:
        outcome = answer(Action.PUSH, ref, target, Status.FAILED, reason)
        after = transition(row, S.FAILED, key=ref.key, target=row.target, now=now, message=reason)
        return Settlement(
            outcome,
            after,
            audit_line(outcome, correlation_id=cid, tenant=step.target.tenant),
            outbound_event(PUSH_FAILED, ref, {**data, "error": reason}),
        )

    if failure is not None and not failure.retryable:
        return failed(f"{failure.message}; the previous deployment keeps serving")
    if failure is None and state is not None and state.state is Provisioning.FAILED:
        return failed(f"{state.reason}; the previous deployment keeps serving")
    if failure is None and state is not None and state.state is Provisioning.SUCCEEDED:
        outcome = answer(Action.PUSH, ref, target, Status.SUCCEEDED, done)
        after = transition(row, S.SUCCEEDED, key=ref.key, target=row.target, now=now, message=done)
        return Settlement(
            outcome,
            after,
            audit_line(outcome, correlation_id=cid, tenant=step.target.tenant),
            outbound_event(ASSET_PUSHED, ref, {**data, "what": done}),
        )
    if failure is not None:
        where, delay = f"could not check: {failure.message}", max(poll_seconds, round(failure.retry_after))
    elif restarted is not None:
        where, delay = restarted.what, poll_seconds
    else:
        where, delay = (state.reason if state else "provisioning"), poll_seconds
    started = row.started or row.updated or now
    if (now - started).total_seconds() >= deadline_seconds:
        return failed(
            f"not ready after {deadline_seconds} s ({where}); the previous deployment keeps serving"
        )
    checks = int(row.detail.get("checks", 0)) + 1
    detail: dict[str, object] = {"checks": checks}
    if restarted is not None and restarted.operation:
        detail["operation"] = restarted.operation
    outcome = answer(Action.PUSH, ref, target, Status.DEPLOYING, where)
    after = transition(
        row, S.DEPLOYING, key=ref.key, target=row.target, now=now, message=where, detail=detail
    )
    return Settlement(
        outcome, after, resend=message.model_copy(update={"follow": checks}), delay_seconds=delay
    )


# --- approval -------------------------------------------------------------------------------------


def plan_approve(
    ref: AssetRef,
    workspace: str,
    row: LedgerEntry | None,
    *,
    approver: str,
    now: datetime,
    correlation_id: str,
    tenant: str | None = None,
) -> WriteRow | None:
    """Release a push that waits for approval: pending, and queued. None: it does not wait."""
    if row is None or row.status is not S.AWAITING_APPROVAL:
        return None
    reason = f"approved by {approver}"
    outcome = answer(Action.APPROVE, ref, workspace, Status.PENDING, reason)
    after = transition(
        row, S.PENDING, key=ref.key, target=row.target, now=now, message=reason, correlation_id=correlation_id
    )
    message = PushMessage(
        kind=ref.kind, name=ref.name, version=ref.version, target=workspace, correlation_id=correlation_id
    )
    return WriteRow(
        outcome,
        row,
        after,
        "approve",
        audit=audit_line(outcome, approver, correlation_id, tenant=tenant),
        send=message,
        must_win=True,
    )
