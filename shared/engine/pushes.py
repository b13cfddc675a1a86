"""One queued push, carried out: the queue worker's use case.

Who calls it: functions/pushes.py, once per message. Observe the row first (a duplicate or a message
for a row held elsewhere needs no AzureML read), then the rules again against the registry version's
tags as the fan-out read them (carried in the message; read from the registry only if it carries none),
plan, apply. A temporary failure is re-sent by apply with the delay AzureML asked for (Retry-After) and the
next attempt number; the function then completes normally, so the queue's own dequeue count only
guards against crashes.

Telemetry: the span `regsync.push` (a child of the worker's span, so of the fan-out that queued the
message), `regsync.pushes` by outcome, and the propagation latency once the push succeeded.
"""

from __future__ import annotations

from dataclasses import replace

from shared import telemetry
from shared.domain import Asset, AssetRef
from shared.engine.core import StoreT
from shared.engine.reconcile import Reconcile
from shared.errors import judge
from shared.planner import Retry, World, decide_fanout, plan_fanout, plan_push, plan_push_before_observing
from shared.planner.dependencies import plan_dependencies_first, workspace_dependencies
from shared.policy import VersionPolicy
from shared.records import Action, Outcome, PushMessage, Status, push_target
from shared.steps import Defer, Push, Step


class Pushes(Reconcile[StoreT]):
    def execute_push(self, message: PushMessage) -> Outcome:
        """Carry out one queued push, checking the rules again first. Idempotent."""
        with telemetry.span(
            "regsync.push",
            correlation_id=message.correlation_id,
            workspace=message.target,
            asset=f"{message.kind.value}:{message.name}",
            version=message.version,
            target=message.target,
            attempt=message.attempt,
        ) as span:
            outcome = self._execute_push(message)
            telemetry.set_outcome(span, outcome.status.value)
            telemetry.record_push(
                outcome.status.value,
                kind=message.kind.value,
                origin_time=message.origin_time,
                now=self.clock(),
            )
            return outcome

    def _execute_push(self, message: PushMessage) -> Outcome:
        ref = message.ref
        row = self.store.get_entry(ref.key, push_target(message.target))
        step = plan_push_before_observing(message, row, now=self.clock())
        if step is None:
            message = message.model_copy(update={"watch": False})  # a watch taking over is the push now
            try:
                # A recall made since the world was read must stop this push: one point read.
                world = self.world().with_tombstone(self.store.tombstone(ref.key))
                asset = (
                    Asset(ref=ref, tags=message.tags)
                    if message.tags is not None
                    else self.gateway.get_registry_asset(world.registry, ref)
                )
                owners = self.observe_owners(world, ref.kind, ref.name) if asset else None
            except Exception as error:
                failure = judge(error)
                if not failure.retryable or message.attempt >= self.max_push_attempts:
                    raise  # the queue's own retries, then its poison queue, keep the message
                later = message.model_copy(update={"attempt": message.attempt + 1})
                delay = max(1, round(failure.retry_after))
                outcome = Outcome(Action.PUSH, str(ref), message.target, Status.RETRYING, failure.message)
                step = Defer(outcome, later, delay)
            else:
                target = world.workspaces.get(message.target)
                telemetry.annotate(tenant=target.tenant if target else None)
                step = plan_push(
                    message, row, asset=asset, owners=owners, target=target, world=world, now=self.clock()
                )
                if isinstance(step, Push) and workspace_dependencies(step.action):
                    step = self._dependencies_first(step, world)
        answered = self.applier.run(step)
        assert answered is not None  # push steps always answer
        return answered

    def _dependencies_first(self, step: Push, world: World) -> Step:
        """A deployment whose rule names an environment of the target workspace goes once it is there;
        a missing one's push is queued first, as the rules allow it there (shared.planner.dependencies)."""
        target, cid = step.target, step.message.correlation_id
        waiting: list[tuple[AssetRef, Outcome | None, str]] = []
        for ref in workspace_dependencies(step.action):
            if self.gateway.get_asset(target, ref) is not None:
                continue
            asset = self.gateway.get_registry_asset(world.registry, ref)
            if asset is None:
                waiting.append((ref, None, f"registry {world.registry.name} has no such version to push"))
                continue
            owners = self.observe_owners(world, ref.kind, ref.name)
            # The deployment chose this version: the dependency's rule's version policy does not apply.
            decision = decide_fanout(asset, world, [target], owners=owners)[0]
            decision = replace(decision, version_policy=VersionPolicy.ALL)
            if not decision.allowed:
                waiting.append((ref, None, decision.reason))
                continue
            steps = plan_fanout(
                self.observe_fanout(asset, ref.version, owners),
                [decision],
                retry=Retry.ALWAYS,
                now=self.clock(),
                correlation_id=cid,
            )
            outcomes = [o for o in self.applier.apply(steps) if o.target == target.name]
            waiting.append((ref, outcomes[0] if outcomes else None, "no push of it was planned"))
        if not waiting:
            return step
        return plan_dependencies_first(step, waiting, max_attempts=self.max_push_attempts)
