"""Dependency order within a push (issue 14): environment -> component -> model -> deployment. Pure.

Who calls it: shared.engine.pushes, before a deployment's push is carried out. Only one dependency lives
in the target workspace and can be missing there: the environment a deploy rule names as
`azureml:NAME:VERSION` (the target's own). The others resolve from the registry whatever the order: a
deployment names its model by its registry id, a component copied from the registry names registry
environments (its share made them so), and an `azureml://registries/...` environment or code id is the
registry's. A missing environment's push is queued first (the engine asks the rules, as for a pull) and
the deployment waits for it; when nothing will bring it, the deployment's push fails for good with the
reason (one audit line, one PushFailed event, as any failure), AzureML not asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from shared.domain import AssetKind, AssetRef
from shared.planner.world import answer
from shared.policy import PushAction, PushMode
from shared.records import Action, Outcome, Status
from shared.steps import Defer, Push, Step

_WORKSPACE_ASSET = re.compile(r"^azureml:(?P<name>[^:]+):(?P<version>[^:]+)$")
# The dependency's push is on its way: the deployment waits for it.
_COMING = frozenset({Status.PENDING, Status.RUNNING, Status.RETRYING, Status.DEPLOYING})
DEPENDENCY_POLL_SECONDS = 10  # a workspace copy of an environment is registered within seconds


def workspace_dependencies(action: PushAction) -> tuple[AssetRef, ...]:
    """What a deploy rule needs in the target workspace itself: its `azureml:NAME:VERSION` environment."""
    if action.mode is PushMode.REGISTER or action.environment is None:
        return ()
    found = _WORKSPACE_ASSET.match(action.environment)
    if found is None:  # a registry id: resolved from the registry
        return ()
    return (AssetRef(kind=AssetKind.ENVIRONMENT, name=found["name"], version=found["version"]),)


def plan_dependencies_first(
    step: Push,
    waiting: Sequence[tuple[AssetRef, Outcome | None, str]],
    *,
    max_attempts: int,
) -> Step:
    """The deployment's step once its missing dependencies were looked after: each with the outcome of
    its own push to the target (None: none was planned) and why, when none was. It waits while they
    are coming (at most `max_attempts` looks); else it fails, naming each, without asking AzureML."""
    message, target = step.message, step.target.name
    blocked = [
        f"{kind_ref(ref)}: {outcome.reason if outcome else why}"
        for ref, outcome, why in waiting
        if outcome is None or outcome.status not in _COMING
    ]
    if not blocked and message.attempt < max_attempts:
        names = ", ".join(
            f"{kind_ref(ref)} ({outcome.status.value})" for ref, outcome, _ in waiting if outcome
        )
        reason = f"waits for its dependencies in {target}, pushed first: {names}"
        later = message.model_copy(update={"attempt": message.attempt + 1})
        return Defer(
            answer(Action.PUSH, message.ref, target, Status.SKIPPED, reason), later, DEPENDENCY_POLL_SECONDS
        )
    missing = "; ".join(blocked) or "still not there after the pushes queued first"
    reason = (
        f"its dependencies are not in {target}: {missing}; add them there (or a rule that pushes them), "
        f"then `regsync sync --workspace {target}`"
    )
    return replace(step, blocked=reason)


def kind_ref(ref: AssetRef) -> str:
    return f"{ref.kind.value} azureml:{ref.name}:{ref.version}"
