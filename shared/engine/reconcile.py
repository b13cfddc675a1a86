"""The reconcile: events are hints, this is the guarantee (kopf's timers act on the gap).

Who calls it: the timer (`schedule_reconcile` only queues one message per workspace to look at, every
workspace on a full pass, and one for the registry), the reconcile queue worker (`reconcile`), and
`sync` for a person's scope. One asset's trouble never stops a pass: it becomes that asset's outcome
and the pass goes on.

Memos: a listed asset judged under the same world (rules, workspaces, registry) whose inputs read the
same (the tags the rules look at, by digest) is not judged again; anything else is. When no rule looks
at tags, a steady-state pass reads no asset version; when one does, it reads each listed version once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from shared import telemetry
from shared.domain import Asset, AssetKind, AssetRef, Workspace
from shared.engine.core import StoreT
from shared.engine.drift import SelfHeal
from shared.engine.feed import FULL_PASS, feed_key, plan_tick
from shared.errors import NotFoundError, PermanentError
from shared.planner import Retry, World, read_digest
from shared.policy import pinned_versions, region_refusal
from shared.records import REGISTRY_SCOPE, Action, Memo, Outcome, ReconcileMessage, Status
from shared.steps import Record

P = TypeVar("P")  # where a listing is made: a workspace or the registry

# Share outcomes that need no second look while the world and the asset stay as they are.
SHARE_SETTLED = frozenset({Status.SUCCEEDED, Status.DONE, Status.REFUSED, Status.CONFLICT, Status.IGNORED})
# Push outcomes after which a registry version needs no second look. A push awaiting approval is not
# settled: once approved it may fail and deserve the reconcile's retry.
PUSH_SETTLED = frozenset({Status.SUCCEEDED, Status.DONE, Status.REFUSED, Status.CONFLICT, Status.FAILED})


class Reconcile(SelfHeal[StoreT]):
    def schedule_reconcile(self, *, correlation_id: str, full: bool = False) -> int:
        """The timer's whole job: one reconcile message per workspace to look at, and one for the
        registry. Between full passes only the workspaces the change feed shows written (shared.engine.
        feed); `full` (a person's sync of everything) looks at all. Watermarks advance once all is queued."""
        if self.reconciles is None:
            raise PermanentError("no reconcile queue is configured")
        now, workspaces = self.clock(), self.store.list_workspaces()
        tick = plan_tick(
            None if full else self.change_feed,
            self.store,
            workspaces,
            now=now,
            full_every_seconds=self.full_reconcile_seconds,
            overlap_seconds=self.change_feed_overlap_seconds,
        )
        messages = [
            ReconcileMessage(scope="workspace", name=ws.name, correlation_id=correlation_id)
            for ws in tick.chosen(workspaces)
        ]
        messages.append(ReconcileMessage(scope="registry", correlation_id=correlation_id))
        for message in messages:
            self.reconciles.send(telemetry.stamp(message.model_dump(mode="json"), now=self.clock()))
        if self.change_feed is not None:
            keys = {feed_key(ws.subscription_id) for ws in workspaces}
            for key in sorted(keys | ({FULL_PASS} if tick.changed is None else set())):
                self.applier.run(Record(None, watermark=(key, now)))
        return len(messages)

    def reconcile(
        self, message: ReconcileMessage, *, dry_run: bool = False, world: World | None = None
    ) -> list[Outcome]:
        with telemetry.span(
            "regsync.reconcile",
            correlation_id=message.correlation_id,
            workspace=message.name if message.scope == "workspace" else None,
            target=message.scope,
        ):
            world = world or self.world()
            if message.scope == "registry":
                return self.reconcile_registry(
                    correlation_id=message.correlation_id, dry_run=dry_run, world=world
                )
            return self.reconcile_workspace(
                message.name, correlation_id=message.correlation_id, dry_run=dry_run, world=world
            )

    def reconcile_workspace(
        self,
        name: str,
        *,
        correlation_id: str,
        dry_run: bool = False,
        world: World | None = None,
        retry: Retry = Retry.AUTOMATIC,
    ) -> list[Outcome]:
        """Share side of one workspace: judge each latest asset version not judged yet in this world.

        Cost with nothing to do: one paged list call per asset kind and one memo partition query.
        """
        world = world or self.world()
        workspace = world.workspaces.get(name)
        if workspace is None:
            raise NotFoundError(f"workspace `{name}` is unknown")
        refusal = region_refusal(workspace, world.registry)
        if refusal:  # nothing it holds can be shared: spare AzureML the calls
            return [Outcome(Action.RECONCILE, name, world.registry.name, Status.REFUSED, refusal)]
        memos = self.store.memos_in(name)
        outcomes: list[Outcome] = []
        listings: dict[AssetKind, list[Asset]] = {}  # reused by the self-heal below: no second list call
        for kind in AssetKind:
            listings[kind] = self._listing(self.gateway.workspace_latest, workspace, kind, name, outcomes)
            for listed in listings[kind]:

                def judge(ref: AssetRef = listed.ref, listed: Asset = listed) -> list[Outcome]:
                    # Only what the rules look at is read again: with no tag selector, nothing.
                    current = self.gateway.get_asset(workspace, ref) if world.policy.tag_keys else listed
                    if current is None:
                        return []
                    read = read_digest(current, world.policy)
                    memo = memos.get(ref.key)
                    if (
                        memo is not None
                        and memo.holds(world.fingerprint, read)
                        and memo.outcome in SHARE_SETTLED
                    ):
                        return []
                    results = self.propagate(
                        workspace,
                        ref,
                        correlation_id=correlation_id,
                        world=world,
                        dry_run=dry_run,
                        retry=retry,
                    )
                    if not dry_run and results and results[0].status in SHARE_SETTLED:
                        memo = Memo(ref.key, world.fingerprint, read, results[0].status)
                        self.applier.run(Record(None, memo=(name, memo)))
                    return results

                outcomes += self.isolated(Action.SHARE, str(listed.ref), name, judge)
        outcomes += self.heal_drift(
            workspace, world, listings, correlation_id=correlation_id, dry_run=dry_run
        )
        return outcomes

    def reconcile_registry(
        self,
        *,
        correlation_id: str,
        dry_run: bool = False,
        world: World | None = None,
        targets: Iterable[Workspace] | None = None,
        retry: Retry = Retry.AUTOMATIC,
    ) -> list[Outcome]:
        """Push side: every latest registry version (and every version a rule pins) reaches every
        workspace the rules allow. Catches lost events, new subscribers, newer versions under `latest`
        and failed pushes (queued afresh once; a person's sync always). `targets` narrows the pass to
        some workspaces (a person's sync of them): it neither reads nor writes memos then."""
        world = world or self.world()
        narrowed = list(targets) if targets is not None else None
        memos = self.store.memos_in(REGISTRY_SCOPE) if narrowed is None else {}
        outcomes: list[Outcome] = []
        for kind in AssetKind:
            listing = self._listing(
                self.gateway.registry_latest, world.registry, kind, world.registry.name, outcomes
            )
            for listed in listing:
                pinned = sorted(pinned_versions(world.policy, listed.ref))
                for version in [listed.ref.version, *pinned]:
                    ref = AssetRef(kind=kind, name=listed.ref.name, version=version)

                    def fan_out(ref: AssetRef = ref, latest: str = listed.ref.version) -> list[Outcome]:
                        return self._reconcile_version(
                            ref, latest, world, memos, narrowed, retry, correlation_id, dry_run
                        )

                    outcomes += self.isolated(Action.FANOUT, str(ref), "", fan_out)
        return outcomes

    def _reconcile_version(
        self,
        ref: AssetRef,
        latest: str,
        world: World,
        memos: dict[str, Memo],
        targets: list[Workspace] | None,
        retry: Retry,
        correlation_id: str,
        dry_run: bool,
    ) -> list[Outcome]:
        memo = memos.get(ref.key)
        if memo is not None and not world.policy.tag_keys and memo.holds(world.fingerprint, ""):
            return []  # no rule looks at tags: nothing the decision read can have changed
        asset = self.gateway.get_registry_asset(world.registry, ref)
        if asset is None:
            return []
        read = read_digest(asset, world.policy)
        if memo is not None and memo.holds(world.fingerprint, read):
            return []
        outcomes = self.fan_out(
            asset,
            world=world,
            correlation_id=correlation_id,
            retry=retry,
            latest_version=latest,
            targets=targets,
            dry_run=dry_run,
        )
        if not dry_run and targets is None and all(outcome.status in PUSH_SETTLED for outcome in outcomes):
            self.applier.run(
                Record(None, memo=(REGISTRY_SCOPE, Memo(ref.key, world.fingerprint, read, Status.DONE)))
            )
        return outcomes

    def _listing(
        self,
        fetch: Callable[[P, AssetKind], list[Asset]],
        place: P,
        kind: AssetKind,
        where: str,
        outcomes: list[Outcome],
    ) -> list[Asset]:
        """A paged list call; if it fails, the failure is this kind's outcome and the pass goes on."""
        listed: list[Asset] = []

        def read() -> list[Outcome]:
            listed.extend(fetch(place, kind))
            return []

        outcomes += self.isolated(Action.RECONCILE, f"{kind.value}s of {where}", where, read)
        return listed
