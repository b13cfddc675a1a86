"""Apply's part of fleet control: a recall (the tombstone, taking a version back from a workspace, the
registry mark) and the self-heal of traffic moved by hand.

Who calls it: shared.engine.apply.Applier.run (Applier is a RecallWriter), with the steps
shared.planner.recall planned. Like the rest of apply, every AzureML failure becomes a verdict here
(shared.errors.judge): a recall that could not take a version back from one workspace says so for that
workspace (its row stays as it was, so running the recall again resumes), and goes on with the others.
"""

from __future__ import annotations

from dataclasses import replace

from shared import telemetry
from shared.errors import judge
from shared.ports import Catalog, Clock, ConcurrentUpdateError, State, WorkQueue
from shared.records import Outcome, Status
from shared.steps import ArchiveInRegistry, Bury, RecallStep, Repromote, Retire


class RecallWriter:
    state: State
    catalog: Catalog
    outbox: WorkQueue | None
    clock: Clock

    def _recall(self, step: RecallStep) -> Outcome:
        if isinstance(step, Bury):
            stored = self.state.bury(step.tombstone)
            if stored != step.tombstone:  # another recall got there first: its record stands
                reason = f"recalled already by {stored.actor}: {stored.reason}"
                return replace(step.outcome, status=Status.DONE, reason=reason)
            self.state.audit(step.audit)
            if self.outbox is not None:
                self.outbox.send(telemetry.stamp(step.event.model_dump(mode="json"), now=self.clock()))
            return step.outcome
        if isinstance(step, Retire):
            return self._retire(step)
        if isinstance(step, Repromote):
            return self._repromote(step)
        return self._archive(step)

    def _repromote(self, step: Repromote) -> Outcome:
        """Self-heal of traffic moved by hand: RegSync's deployment gets it back (Catalog.promote)."""
        try:
            done = self.catalog.promote(step.target, step.action, step.ref)
        except Exception as error:
            failure = judge(error)
            status = Status.RETRYING if failure.retryable else Status.FAILED
            reason = f"could not move the traffic back: {failure.message}; the next reconcile tries again"
            return replace(step.outcome, status=status, reason=reason)
        self.state.audit(replace(step.audit, outcome=Status.SUCCEEDED, reason=f"self-heal: {done}"))
        return replace(step.outcome, status=Status.SUCCEEDED, reason=f"self-heal: {done}")

    def _retire(self, step: Retire) -> Outcome:
        try:
            done = self.catalog.retire(step.target, step.registry, step.ref, step.action, step.fallback)
        except Exception as error:  # every failure becomes a verdict here, once
            failure = judge(error)
            status = Status.RETRYING if failure.retryable else Status.FAILED
            reason = f"could not take it back: {failure.message}; recall again to resume"
            failed = replace(step.outcome, status=status, reason=reason)
            self.state.audit(replace(step.audit, outcome=status, reason=reason))
            return failed
        try:
            self.state.update_entry(replace(step.after, message=done, etag=step.row.etag))
        except ConcurrentUpdateError:
            reason = f"{done}; its ledger row changed meanwhile: recall again to record it"
            return replace(step.outcome, status=Status.RETRYING, reason=reason)
        self.state.audit(replace(step.audit, reason=done))
        return replace(step.outcome, reason=done)

    def _archive(self, step: ArchiveInRegistry) -> Outcome:
        try:
            done = self.catalog.archive_registry_version(step.registry, step.ref, step.tags)
        except Exception as error:
            failure = judge(error)
            status = Status.RETRYING if failure.retryable else Status.FAILED
            reason = f"could not mark it in the registry: {failure.message}; the tombstone still stands"
            self.state.audit(replace(step.audit, outcome=status, reason=reason))
            return replace(step.outcome, status=status, reason=reason)
        self.state.audit(replace(step.audit, reason=done))
        return replace(step.outcome, reason=done)
