"""Apply: the ONLY code that writes the ledger, the audit log, the memos, the owners of registry names,
the queues and the outbox.

Who calls it: the engine's use cases, with the steps the planner returned. Each step is carried out as
it says; a Share or Push step claims its row, makes its AzureML call, turns whatever that raised into a
Failure (shared.errors.judge, the one error mapping) and writes the settlement the planner decides.
A Share claims its destination name for the origin's tenant (insert-if-absent) before it copies
anything: of two tenants racing for a new name, the one whose claim lost is refused (`lost_claim`).
RegSync's own events are only queued here (the queue is the outbox): publishing them happens off the
critical path, so a slow or hung topic never holds up a share or a push.

Telemetry (shared.telemetry): every message sent here carries the current span's W3C `traceparent`
(`_send`, one place), so the worker that takes it continues the trace; a share and each AzureML call
are spans; share and push log lines carry their outcome as a field; share duration and AzureML
throttles and retries are measured here, where they settle (pushes by outcome and the propagation
latency in shared.engine.pushes, once per push message).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from shared import telemetry
from shared.domain import Asset, DeploymentState, LedgerStatus, Provisioning, Pushed
from shared.engine.apply_recall import RecallWriter
from shared.engine.lease import Lease
from shared.engine.logs import logger_for
from shared.engine.signatures import push_refusal, signature_tags
from shared.errors import Failure, Kind, TemporaryError, judge
from shared.ledger import ALLOWED, LEASE_RENEWAL, LEASE_SECONDS, held, lease_left_seconds, transition
from shared.planner import lost_claim, settle_follow, settle_push, settle_share
from shared.ports import Catalog, Clock, ConcurrentUpdateError, State, WorkQueue
from shared.records import SHARE_TARGET, AuditRecord, LedgerEntry, Outcome, Status
from shared.signing.notary import Notary
from shared.steps import (
    ArchiveInRegistry,
    Bury,
    Claim,
    Defer,
    Follow,
    Push,
    Record,
    Report,
    Repromote,
    Retire,
    Settlement,
    Share,
    Step,
    WriteRow,
)

log = logging.getLogger("regsync.apply")
_REBASE_TRIES = 3
TRANSACTION_ROWS = 100  # Table Storage's limit per entity group transaction


@dataclass
class Applier(RecallWriter):
    state: State
    catalog: Catalog
    pushes: WorkQueue
    outbox: WorkQueue | None  # None: no topic is configured, RegSync's events go nowhere
    clock: Clock
    max_push_attempts: int
    refusal_window: int = 0  # seconds within which an identical `once` audit line is written once
    deployment_poll_seconds: int = 30  # the delay of each follow-up check of a started deployment
    deployment_deadline_seconds: int = 1800  # a deployment not ready by then fails its push
    lease_renewal_seconds: float = LEASE_RENEWAL.total_seconds()  # how often a claim is renewed
    watches: WorkQueue | None = None  # where a claimed push's watch goes (None: the push queue)
    notary: Notary | None = None  # signs shares and verifies pushes (None: the installation has no key)

    def apply(self, steps: Iterable[Step]) -> list[Outcome]:
        """Run the steps in order; a fan-out's row writes of one asset version go together (see
        `_write_rows`), Reports (no effect) between them do not part them."""
        answered: list[Outcome | None] = []
        rows: list[tuple[int, WriteRow]] = []
        for step in steps:
            if isinstance(step, WriteRow) and not step.must_win:
                if rows and rows[0][1].after.asset_key != step.after.asset_key:
                    self._write_rows(rows, answered)
                    rows = []
                rows.append((len(answered), step))
                answered.append(None)
                continue
            if not isinstance(step, Report) and rows:
                self._write_rows(rows, answered)
                rows = []
            answered.append(self.run(step))
        self._write_rows(rows, answered)
        return [outcome for outcome in answered if outcome is not None]

    def _write_rows(self, rows: list[tuple[int, WriteRow]], answered: list[Outcome | None]) -> None:
        """Ledger rows of one asset version in one Table transaction (at most 100), then their messages
        side by side. If any row changed meanwhile, nothing was written: they go one by one instead,
        each settled as `_write_row` settles it (so exactly-once holds as for a single row)."""
        for start in range(0, len(rows), TRANSACTION_ROWS):
            chunk = rows[start : start + TRANSACTION_ROWS]
            if len(chunk) == 1:
                answered[chunk[0][0]] = self._write_row(chunk[0][1])
                continue
            try:
                self.state.write_entries([(step.before, step.after) for _, step in chunk])
            except ConcurrentUpdateError:
                for index, step in chunk:
                    answered[index] = self._write_row(step)
                continue
            for delay in sorted({step.delay_seconds for _, step in chunk if step.send is not None}):
                bodies = [
                    telemetry.stamp(step.send.model_dump(mode="json"), now=self.clock())
                    for _, step in chunk
                    if step.send is not None and step.delay_seconds == delay
                ]
                self.pushes.send_all(bodies, delay_seconds=delay)
            for index, step in chunk:
                if step.audit is not None:
                    self.state.audit(step.audit)
                answered[index] = step.outcome

    def run(self, step: Step) -> Outcome | None:
        if isinstance(step, Report):
            return step.outcome
        if isinstance(step, Record):
            if step.audit is not None and (not step.once or self._first_in_window(step.audit)):
                self.state.audit(step.audit)
            if step.memo is not None:
                self.state.remember(*step.memo)
            if step.watermark is not None:
                self.state.advance(*step.watermark)
            return step.outcome
        if isinstance(step, WriteRow):
            return self._write_row(step)
        if isinstance(step, Defer):
            return self._defer(step)
        if isinstance(step, Share):
            return self.share(step)[0]
        if isinstance(step, Follow):
            return self._follow(step)
        if isinstance(step, Claim):
            owners = step.owners
            if self.state.claim_owner(owners.kind, owners.name, step.tenant) == step.tenant:
                self.state.audit(step.audit)
            return step.outcome
        if isinstance(step, Bury | Retire | ArchiveInRegistry | Repromote):
            return self._recall(step)
        return self._push(step)

    # --- ledger rows --------------------------------------------------------------------------

    def _write_row(self, step: WriteRow) -> Outcome:
        try:
            self._put(step.before, step.after)
        except ConcurrentUpdateError:
            what = f"{step.after.asset_key} -> {step.after.target}"
            if step.must_win:
                raise TemporaryError(f"{what} changed meanwhile; try again", retry_after=1) from None
            return replace(step.outcome, status=Status.DONE, reason="another worker took this over first")
        if step.send is not None:
            self._send(step.send.model_dump(mode="json"), step.delay_seconds)
        if step.audit is not None:
            self.state.audit(step.audit)
        return step.outcome

    def _put(self, before: LedgerEntry | None, after: LedgerEntry) -> LedgerEntry:
        """Create the row, or replace `before` if nobody changed it since (ConcurrentUpdateError)."""
        if before is None:
            return self.state.create_entry(after)
        return self.state.update_entry(replace(after, etag=before.etag))

    def _finish(self, claimed: LedgerEntry, wanted: LedgerEntry) -> None:
        """Write a claimed row's settlement. Losing the ETag race to a writer that only touched the row
        (a duplicate event, a reconcile that judged it abandoned) must not lose the result: re-read and
        make the same move from the fresh row."""
        row = claimed
        for _ in range(_REBASE_TRIES):
            try:
                self.state.update_entry(replace(wanted, etag=row.etag))
                return
            except ConcurrentUpdateError:
                fresh = self.state.get_entry(claimed.asset_key, claimed.target)
                if fresh is None or wanted.status not in ALLOWED[fresh.status]:
                    log.warning(
                        "ledger row %s -> %s moved on meanwhile; left as it is",
                        claimed.asset_key,
                        claimed.target,
                    )
                    return
                row, wanted = (
                    fresh,
                    transition(
                        fresh,
                        wanted.status,
                        key=fresh.asset_key,
                        target=fresh.target,
                        now=self.clock(),
                        message=wanted.message,
                    ),
                )
        raise TemporaryError(f"ledger row {claimed.asset_key} -> {claimed.target} keeps changing; try again")

    def _claim(self, row: LedgerEntry | None, key: str, target: str, **fields: Any) -> LedgerEntry | None:
        """Take the row for this worker (running, one attempt more); None if another worker got it, or
        holds it already (a running row whose lease still runs is not taken over, only an abandoned one)."""
        if held(row, self.clock()):
            return None
        claimed = transition(row, LedgerStatus.RUNNING, key=key, target=target, now=self.clock(), **fields)
        try:
            return self._put(row, claimed)
        except ConcurrentUpdateError:
            return None

    def _lease(self, claimed: LedgerEntry, watch: Callable[[], None] | None = None) -> Lease:
        """The claim renewed while its AzureML call runs (shared.engine.lease)."""
        return Lease(self.state, claimed, self.clock, self.lease_renewal_seconds, watch=watch)

    def _settle(self, claimed: LedgerEntry, settlement: Settlement) -> Outcome:
        """Write the settlement; if that fails, give the row back (retrying) instead of leaving it
        running until its lease runs out, then let the failure reach the trigger."""
        try:
            # What follows from the result first, the row last: if a write fails, the row is given back
            # and the work redone (idempotent), rather than settled with its audit line or event lost.
            if settlement.resend is not None:
                self._send(settlement.resend.model_dump(mode="json"), settlement.delay_seconds)
            if settlement.audit is not None:
                self.state.audit(settlement.audit)
            if settlement.event is not None and self.outbox is not None:
                self.outbox.send(telemetry.stamp(settlement.event.model_dump(mode="json"), now=self.clock()))
            self._finish(claimed, settlement.row)
        except Exception as error:
            self._release(claimed, judge(error))
            raise
        return settlement.outcome

    def _release(self, claimed: LedgerEntry, failure: Failure) -> None:
        released = transition(
            claimed,
            LedgerStatus.RETRYING,
            key=claimed.asset_key,
            target=claimed.target,
            now=self.clock(),
            message=f"interrupted: {failure.message}",
        )
        try:
            self._finish(claimed, released)
        except Exception as error:  # storage is down: the lease is the last resort
            log.warning(
                "could not release ledger row %s -> %s: %s",
                claimed.asset_key,
                claimed.target,
                judge(error).message,
            )

    def _first_in_window(self, record: AuditRecord) -> bool:
        """Is this the first identical record of the refusal window? (0: every one is written.)"""
        if self.refusal_window <= 0:
            return True
        return self.state.first_in_window(record.key, now=self.clock(), window_seconds=self.refusal_window)

    def _send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        self.pushes.send(telemetry.stamp(body, now=self.clock()), delay_seconds=delay_seconds)

    # --- AzureML work ----------------------------------------------------------------------------

    def share(self, step: Share) -> tuple[Outcome, Asset | None]:
        """Carry out a share; its outcome and, if it landed, the registry's copy as AzureML answered."""
        with telemetry.span(
            "regsync.share",
            correlation_id=step.correlation_id,
            tenant=step.origin.tenant,
            workspace=step.origin.name,
            asset=f"{step.destination.kind.value}:{step.destination.name}",
            version=step.destination.version,
            target=step.registry.name,
        ) as span:
            started = time.monotonic()
            outcome, copy = self._share_in_span(step)
            telemetry.set_outcome(span, outcome.status.value)
            if outcome.status is not Status.SKIPPED:
                telemetry.record_share(
                    outcome.status.value,
                    kind=step.destination.kind.value,
                    seconds=time.monotonic() - started,
                )
            return outcome, copy

    def _share_in_span(self, step: Share) -> tuple[Outcome, Asset | None]:
        logs = logger_for(step.correlation_id, str(step.destination), step.registry.name)
        detail = {"origin": step.origin.name, "source": f"{step.source.ref.name}:{step.source.ref.version}"}
        claimed = self._claim(
            step.row,
            step.destination.key,
            SHARE_TARGET,
            message="sharing",
            event_id=step.event_id,
            correlation_id=step.correlation_id,
            detail=detail,
        )
        if claimed is None:
            # Another worker holds a fresh claim on this share (a duplicate delivery of the same event,
            # or an event and the reconcile at once). It shares and fans out itself; if it fails, its
            # own delivery is retried, and the reconcile converges in any case. So this delivery is
            # answered, not failed: raising would only make Event Grid redeliver a duplicate.
            reason = f"the share of {step.destination} is being worked on elsewhere; that worker fans it out"
            logs.info("share of %s: skipped (%s)", step.destination, reason, extra={"outcome": "skipped"})
            return replace(step.outcome, status=Status.SKIPPED, reason=reason), None
        failure: Failure | None = None
        raised: Exception | None = None
        copy: Asset | None = None
        lease = self._lease(claimed)
        try:
            with lease:
                holder = self.state.claim_owner(
                    step.destination.kind, step.destination.name, step.origin.tenant
                )
                refusal = lost_claim(step, holder)
                if refusal is not None:  # another tenant claimed the name first: nothing reaches the registry
                    failure = Failure(Kind.REFUSED, refusal)
                else:
                    with telemetry.span(
                        "regsync.sign", workspace=step.origin.name, target=step.registry.name
                    ):
                        tags = {**step.tags, **signature_tags(self.notary, self.state, step, self.clock)}
                    if step.stamp_only:
                        with telemetry.span("azureml.stamp_registry_tags", target=step.registry.name):
                            copy = self.catalog.stamp_registry_tags(step.registry, step.destination, tags)
                    else:
                        with telemetry.span(
                            "azureml.share", workspace=step.origin.name, target=step.registry.name
                        ):
                            copy = self.catalog.share(
                                step.origin, step.source.ref, step.registry, step.destination, tags
                            )
        except Exception as error:  # every failure becomes a verdict here, once
            failure, raised = judge(error), error
        claimed = lease.row
        outcome = self._settle(claimed, settle_share(step, claimed, failure, now=self.clock()))
        if raised is not None:
            telemetry.record_azureml_failure("share", raised, retried=outcome.status is Status.RETRYING)
        logs.info(
            "share of %s: %s (%s)",
            step.destination,
            outcome.status.value,
            outcome.reason,
            extra={"outcome": outcome.status.value},
        )
        return outcome, copy if failure is None else None

    def _push(self, step: Push) -> Outcome:
        message = step.message
        logs = logger_for(message.correlation_id, str(message.ref), step.target.name)
        detail = {"rule": step.rule_id, "mode": step.action.mode.value}
        claimed = self._claim(
            step.row,
            message.ref.key,
            f"push|{step.target.name}",
            message="pushing",
            event_id=message.event_id,
            correlation_id=message.correlation_id,
            detail=detail,
        )
        if claimed is None:
            reason = f"push of {message.ref} to {step.target.name} is running elsewhere; tried again later"
            # Looked at again when the holder's lease runs out (a claim just won elsewhere: a whole one).
            now = self.clock()
            later = lease_left_seconds(step.row, now) if held(step.row, now) else LEASE_SECONDS
            return self._defer(
                Defer(replace(step.outcome, status=Status.SKIPPED, reason=reason), message, later)
            )
        failure: Failure | None = None
        raised: Exception | None = None
        pushed: Pushed | None = None
        # Watched: if this worker crashes, the watch takes the push over once the lease runs out.
        watch = telemetry.stamp(
            message.model_copy(update={"watch": True}).model_dump(mode="json"), now=self.clock()
        )
        watches = self.watches or self.pushes
        lease = self._lease(claimed, watch=lambda: watches.send(watch, delay_seconds=LEASE_SECONDS + 1))
        try:  # a deployment is only started here: no call waits for provisioning
            with lease:
                with telemetry.span("regsync.verify", target=step.target.name):
                    refusal = push_refusal(self.notary, step)
                if refusal is not None:  # nothing reaches the workspace
                    failure = Failure(Kind.REFUSED, refusal)
                else:
                    with telemetry.span(
                        "azureml.push",
                        workspace=step.target.name,
                        target=step.target.name,
                        asset=f"{message.kind.value}:{message.name}",
                        version=message.version,
                    ):
                        pushed = self.catalog.push(
                            step.target, step.registry, message.ref, step.action, step.tags
                        )
        except Exception as error:  # every failure becomes a verdict here, once
            failure, raised = judge(error), error
        claimed = lease.row
        settlement = settle_push(
            step,
            claimed,
            failure,
            pushed,
            max_attempts=self.max_push_attempts,
            now=self.clock(),
            poll_seconds=self.deployment_poll_seconds,
        )
        outcome = self._settle(claimed, settlement)
        if raised is not None:
            telemetry.record_azureml_failure("push", raised, retried=settlement.resend is not None)
        logs.info(
            "push of %s to %s: %s (%s)",
            message.ref,
            step.target.name,
            outcome.status.value,
            outcome.reason,
            extra={"outcome": outcome.status.value},
        )
        return outcome

    def _follow(self, step: Follow) -> Outcome:
        """One check of a started deployment: read its state; start it if its endpoint only now became
        ready; move its traffic once it is ready. The row is written first, conditional on the one this
        check read, so of duplicate checks only one goes on (and sends the next check)."""
        message, row = step.message, step.row
        logs = logger_for(message.correlation_id, str(message.ref), step.target.name)
        state: DeploymentState | None = None
        restarted: Pushed | None = None
        done, failure = "", None
        try:
            operation = str(row.detail.get("operation", ""))
            state = self.catalog.deployment_state(step.target, step.action, message.ref, operation)
            if state.state is Provisioning.ABSENT:
                restarted = self.catalog.push(step.target, step.registry, message.ref, step.action, step.tags)
            elif state.state is Provisioning.SUCCEEDED:
                done = self.catalog.promote(step.target, step.action, message.ref)
        except Exception as error:  # every failure becomes a verdict here, once
            failure = judge(error)
        settlement = settle_follow(
            step,
            state,
            done,
            failure,
            now=self.clock(),
            poll_seconds=self.deployment_poll_seconds,
            deadline_seconds=self.deployment_deadline_seconds,
            restarted=restarted,
        )
        try:
            self._put(row, settlement.row)
        except ConcurrentUpdateError:
            return replace(
                settlement.outcome, status=Status.DONE, reason="another check took this over first"
            )
        if settlement.resend is not None:
            self._send(settlement.resend.model_dump(mode="json"), settlement.delay_seconds)
        if settlement.audit is not None:
            self.state.audit(settlement.audit)
        if settlement.event is not None and self.outbox is not None:
            self.outbox.send(settlement.event.model_dump(mode="json"))
        logs.info(
            "deployment of %s to %s: %s (%s)",
            message.ref,
            step.target.name,
            settlement.outcome.status.value,
            settlement.outcome.reason,
        )
        return settlement.outcome

    def _defer(self, step: Defer) -> Outcome:
        self._send(step.message.model_dump(mode="json"), step.delay_seconds)
        return step.outcome
