"""Issue 4's "Done when", end to end on the local stack: tenants register assets through the real SDK, the
emulator delivers Event Grid events to the local Functions host, the app shares and pushes, and RegSync's
own events arrive at the local topic. Nothing here calls the app directly: only the SDK, the webhook,
the host's admin route, the emulator's admin API, the tables and the queues, as an operator could.

One stack for the module (tests/e2e/conftest.py); the tests run in file order, and the reconcile test
comes last because it is the only one that runs a reconcile.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from devstack.emulator.launch import EmulatorAdmin
from devstack.stack import LocalStack
from shared.domain import AssetKind, AssetRef, LedgerStatus, workspace_arm_id
from shared.records import LedgerEntry
from shared.storage import StateStore
from tests.e2e.conftest import SUB1, topic_events
from tests.support import model_registered, wait_for

pytestmark = pytest.mark.e2e

CREDIT = "credit-card-default"  # workspace1 shares it for northwind; pushed to workspace3 only
BERT = "bert-base-uncased_fine-tuned"  # workspace3 shares it; pushed to workspaces 1, 2 and 4
BERT_TARGETS = ("workspace1", "workspace2", "workspace4")
MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"
WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
SUB1_SUBSCRIPTION = f"regsync-{SUB1}"  # the emulator subscription `up` created for the host's webhook


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(uuid.uuid4().bytes)
    (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    return folder


def new_version() -> str:
    return uuid.uuid4().hex[:8]


def register_model(ml: Callable[[str], Any], workspace: str, name: str, version: str, folder: Path) -> None:
    from azure.ai.ml.entities import Model

    ml(workspace).models.create_or_update(Model(name=name, version=version, path=str(folder)))


def model_in(ml: Callable[[str], Any], where: str, name: str, version: str) -> Any:
    try:
        return ml(where).models.get(name=name, version=version)
    except ResourceNotFoundError:
        return None


def rows(store: StateStore, ref: AssetRef) -> dict[str, LedgerEntry]:
    return {entry.target: entry for entry in store.entries_for_asset(ref.key)}


def settled(store: StateStore, ref: AssetRef, targets: tuple[str, ...]) -> dict[str, LedgerEntry] | None:
    """The ledger rows once the share and the pushes to `targets` all reached a final status."""
    found = rows(store, ref)
    wanted = ["share", *(f"push|{target}" for target in targets)]
    return found if all(name in found and found[name].status.final for name in wanted) else None


def wait_settled(
    stack: LocalStack,
    store: StateStore,
    ref: AssetRef,
    targets: tuple[str, ...],
    what: str = "the ledger to settle",
) -> dict[str, LedgerEntry]:
    """`settled`, polled with a deadline; on a timeout the error shows the rows and the host's last lines."""
    try:
        return wait_for(lambda: settled(store, ref, targets), what=what, timeout=120)
    except AssertionError as error:
        state = {
            target: (entry.status.value, entry.attempts, entry.message)
            for target, entry in rows(store, ref).items()
        }
        tail = "\n".join(host_log(stack).splitlines()[-30:])
        raise AssertionError(f"{error}; ledger: {state}; host log tail:\n{tail}") from None


def about(events: list[dict[str, Any]], ref: AssetRef) -> list[dict[str, Any]]:
    return [event for event in events if event["data"].get("asset") == ref.key]


def published(stack: LocalStack, event_type: str, ref: AssetRef, count: int = 1) -> list[dict[str, Any]]:
    """RegSync's events of one type about `ref`, once `count` of them reached the topic. The outbox queue
    publishes them off the critical path, so they may arrive after the ledger has settled."""

    def arrived() -> list[dict[str, Any]] | None:
        found = about(topic_events(stack, event_type), ref)
        return found if len(found) >= count else None

    return wait_for(arrived, what=f"{count} {event_type} about {ref}")


def notify(stack: LocalStack, body: Any) -> httpx.Response:
    """POST to the host's webhook as Event Grid does."""
    url = stack.env["REGSYNC_EVENTGRID_WEBHOOK_URL"]
    return httpx.post(url, json=body, headers={"aeg-event-type": "Notification"}, timeout=120)


def host_log(stack: LocalStack) -> str:
    return (stack.state_dir / "logs" / "host.log").read_text(encoding="utf-8")


def reconcile_ran(stack: LocalStack) -> bool:
    log = host_log(stack)
    return "schedule_reconcile (timerTrigger)" in log or "run_reconcile (queueTrigger)" in log


@contextmanager
def events_lost(admin: EmulatorAdmin) -> Iterator[None]:
    """Subscription 1111...'s events are lost (it has no Event Grid subscription) inside the block."""
    [subscription] = [s for s in admin.event_subscriptions() if s["name"] == SUB1_SUBSCRIPTION]
    admin.remove_event_subscription(SUB1_SUBSCRIPTION)
    try:
        yield
    finally:
        admin.add_event_subscription(
            SUB1_SUBSCRIPTION, subscription["endpoint"], subscription["scope"], subscription["schema"]
        )


@pytest.fixture
def events_paused(admin: EmulatorAdmin) -> Iterator[None]:
    """Workspace events of subscription 1111... are lost for the whole test: the test delivers them."""
    with events_lost(admin):
        yield


# --- the happy paths ----------------------------------------------------------------------------------


def test_a_registered_model_is_shared_and_pushed_to_its_subscriber_only(
    stack: LocalStack, ml: Callable[[str], Any], store: StateStore, model_folder: Path
) -> None:
    version = new_version()
    ref = AssetRef(kind=AssetKind.MODEL, name=CREDIT, version=version)

    register_model(ml, "workspace1", CREDIT, version, model_folder)

    pushed = wait_for(lambda: model_in(ml, "workspace3", CREDIT, version), what="the model in workspace3")
    assert pushed.path == f"azureml://registries/regsync-registry/models/{CREDIT}/versions/{version}"
    shared = model_in(ml, "registry", CREDIT, version)
    assert {k: shared.tags.get(k) for k in ("regsync.origin.workspace", "regsync.origin.tenant")} == {
        "regsync.origin.workspace": "workspace1",
        "regsync.origin.tenant": "contoso",
    }
    assert shared.tags["regsync.rule"] == "contoso-shares-credit-card"
    ledger = wait_settled(stack, store, ref, ("workspace3",), "the ledger to settle")
    assert {t: e.status for t, e in ledger.items()} == {
        "share": LedgerStatus.SUCCEEDED,
        "push|workspace3": LedgerStatus.SUCCEEDED,
    }
    assert model_in(ml, "workspace2", CREDIT, version) is None  # same tenant, not subscribed
    correlation = ledger["push|workspace3"].correlation_id
    [shared_event] = published(stack, "RegSync.AssetShared", ref)
    assert (shared_event["data"]["target"], shared_event["data"]["correlation_id"]) == (
        "regsync-registry",
        correlation,
    )
    [pushed_event] = published(stack, "RegSync.AssetPushed", ref)
    assert (pushed_event["data"]["target"], pushed_event["data"]["correlation_id"]) == (
        "workspace3",
        correlation,
    )


def test_an_environment_arrives_through_the_resource_write_success_path(
    stack: LocalStack, ml: Callable[[str], Any], store: StateStore, admin: EmulatorAdmin
) -> None:
    from azure.ai.ml.entities import Environment

    name, version = "nlp-runtime", new_version()  # northwind shares nlp-*; woodgrove gets environments
    ref = AssetRef(kind=AssetKind.ENVIRONMENT, name=name, version=version)

    ml("workspace3").environments.create_or_update(
        Environment(name=name, version=version, image="mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39")
    )

    arrived = wait_for(lambda: _environment_in(ml, "workspace4", name, version), what="workspace4's copy")
    assert arrived.tags["regsync.origin.workspace"] == "workspace3"
    assert not reconcile_ran(stack)  # no reconcile ran: the event path did it
    subject = f"/workspaces/workspace3/environments/{name}/versions/{version}"
    [delivery] = [
        d for d in admin.deliveries() if d["eventType"] == WRITE_SUCCESS and d["subject"].endswith(subject)
    ]
    assert (delivery["subscription"], delivery["status"], delivery["delivered"]) == (
        SUB1_SUBSCRIPTION,
        202,
        True,
    )
    assert MODEL_REGISTERED not in {d["eventType"] for d in admin.deliveries() if name in d["subject"]}
    ledger = wait_settled(stack, store, ref, ("workspace4",), "the ledger to settle")
    assert delivery["eventId"] in ledger["push|workspace4"].event_ids


def _environment_in(ml: Callable[[str], Any], workspace: str, name: str, version: str) -> Any:
    try:
        return ml(workspace).environments.get(name=name, version=version)
    except ResourceNotFoundError:
        return None


# --- at-least-once delivery, exactly-once effects -------------------------------------------------------


def test_the_same_event_delivered_five_times_shares_once_and_pushes_once_per_target(
    stack: LocalStack, ml: Callable[[str], Any], store: StateStore, model_folder: Path, events_paused: None
) -> None:
    version = new_version()
    ref = AssetRef(kind=AssetKind.MODEL, name=BERT, version=version)
    register_model(ml, "workspace3", BERT, version, model_folder)  # its own event is lost (paused)
    event = model_registered("workspace3", BERT, version, event_id=f"dup-{version}")

    replies = [notify(stack, [event]).status_code for _ in range(5)]

    assert replies == [202] * 5
    ledger = wait_settled(stack, store, ref, BERT_TARGETS, "the ledger to settle")
    assert (ledger["share"].status, ledger["share"].attempts) == (LedgerStatus.SUCCEEDED, 1)
    pushes = {target: ledger[f"push|{target}"] for target in BERT_TARGETS}
    assert {t: (e.status, e.attempts) for t, e in pushes.items()} == dict.fromkeys(
        BERT_TARGETS, (LedgerStatus.SUCCEEDED, 1)
    )
    pushed = published(stack, "RegSync.AssetPushed", ref, count=len(BERT_TARGETS))
    assert sorted(event["data"]["target"] for event in pushed) == list(BERT_TARGETS)
    assert len(published(stack, "RegSync.AssetShared", ref)) == 1
    assert [m.version for m in ml("registry").models.list(name=BERT) if m.version == version] == [version]


@dataclass(frozen=True)
class OutOfOrder:
    older: AssetRef
    newer: AssetRef
    replies: list[int]


@pytest.fixture(scope="module")
def out_of_order(
    stack: LocalStack,
    ml: Callable[[str], Any],
    admin: EmulatorAdmin,
    tmp_path_factory: pytest.TempPathFactory,
) -> OutOfOrder:
    """Two versions registered in order, their events delivered newest first (Event Grid is unordered)."""
    folder = tmp_path_factory.mktemp("model")
    (folder / "model.pkl").write_bytes(uuid.uuid4().bytes)
    base = uuid.uuid4().int % 10**9
    older, newer = (AssetRef(kind=AssetKind.MODEL, name=BERT, version=str(v)) for v in (base, base + 1))
    with events_lost(admin):
        for ref in (older, newer):
            register_model(ml, "workspace3", BERT, ref.version, folder)
        replies = [
            notify(
                stack, [model_registered("workspace3", BERT, ref.version, event_id=f"late-{ref.version}")]
            ).status_code
            for ref in (newer, older)
        ]
    return OutOfOrder(older, newer, replies)


def test_an_older_version_announced_after_a_newer_one_is_acknowledged_and_shared(
    out_of_order: OutOfOrder, ml: Callable[[str], Any], store: StateStore, stack: LocalStack
) -> None:
    assert out_of_order.replies == [202, 202]
    ledger = wait_settled(stack, store, out_of_order.newer, BERT_TARGETS, "the newer version's pushes")
    assert {ledger[f"push|{t}"].status for t in BERT_TARGETS} == {LedgerStatus.SUCCEEDED}
    older = model_in(ml, "registry", BERT, out_of_order.older.version)  # the registry keeps every version
    assert older.tags["regsync.origin.version"] == out_of_order.older.version


def test_an_older_version_announced_late_is_not_pushed_under_a_latest_policy(
    out_of_order: OutOfOrder, store: StateStore, stack: LocalStack
) -> None:
    wait_settled(stack, store, out_of_order.newer, BERT_TARGETS, "the newer version's pushes")
    share = wait_for(lambda: rows(store, out_of_order.older).get("share"), what="the older version's share")

    assert share.status is LedgerStatus.SUCCEEDED
    assert [target for target in rows(store, out_of_order.older) if target.startswith("push|")] == []


# --- events RegSync does not act on -------------------------------------------------------------------


def test_an_event_from_a_foreign_topic_is_acknowledged_audited_and_not_acted_on(
    stack: LocalStack, store: StateStore
) -> None:
    name, event_id = f"intruder-{new_version()}", f"foreign-{new_version()}"
    event = model_registered("workspace1", name, "1", event_id=event_id)
    event["topic"] = workspace_arm_id(SUB1, "rg-elsewhere", "intruder")

    reply = notify(stack, [event])

    assert reply.status_code == 202
    [record] = [r for r in store.recent_audit(limit=1000) if r.target == event_id]
    assert (record.action, record.outcome) == ("event", "ignored")
    assert "is not a workspace RegSync manages" in record.reason
    assert rows(store, AssetRef(kind=AssetKind.MODEL, name=name, version="1")) == {}


MALFORMED = {
    "not JSON": (b"{not json", 400, None),
    "no event type": (b'[{"id": "ID", "subject": "models/m:1", "data": {}}]', 202, "`eventType` is missing"),
    "no version in the subject": (
        json.dumps(
            [{**model_registered("workspace1", "m", "1", event_id="ID"), "subject": "models/m"}]
        ).encode(),
        202,
        "a subject `models/NAME:VERSION`",
    ),
}


@pytest.mark.parametrize(("body", "status", "logged"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_event_is_refused_with_a_log_line_and_changes_nothing(
    stack: LocalStack, store: StateStore, body: bytes, status: int, logged: str | None
) -> None:
    event_id = f"malformed-{new_version()}"
    headers = {"aeg-event-type": "Notification", "content-type": "application/json"}
    seen = len(host_log(stack).splitlines())

    reply = httpx.post(
        stack.env["REGSYNC_EVENTGRID_WEBHOOK_URL"],
        content=body.replace(b"ID", event_id.encode()),
        headers=headers,
    )

    assert reply.status_code == status  # 400 is not retried by Event Grid; 202 acknowledges
    if logged is not None:
        line = wait_for(lambda: _refusal_since(stack, seen), what="the refusal in the host log")
        assert logged in line
    assert [r for r in store.recent_audit(limit=1000) if r.target == event_id] == []
    assert rows(store, AssetRef(kind=AssetKind.MODEL, name="m", version="1")) == {}


def _refusal_since(stack: LocalStack, seen: int) -> str | None:
    lines = host_log(stack).splitlines()[seen:]
    refusals = (line for line in lines if "malformed event" in line and "refused, nothing changed" in line)
    return next(refusals, None)


def test_a_workspace_outside_the_registry_regions_is_refused_with_the_reason_in_the_audit_log(
    stack: LocalStack, ml: Callable[[str], Any], store: StateStore, model_folder: Path
) -> None:
    name = f"litware-{new_version()}"  # litware shares everything, but workspace5 is in westus

    register_model(ml, "workspace5", name, "1", model_folder)

    reason = "workspace workspace5 is in westus, outside the registry's regions [eastus, westeurope]"
    refusal = wait_for(
        lambda: [
            r
            for r in store.recent_audit(limit=1000)
            if r.subject.endswith(f"{name}:1") and r.reason == reason
        ],
        what="the refusal in the audit log",
    )
    assert refusal[0].outcome == "refused"
    assert list(ml("registry").models.list(name=name)) == []


# --- a push that keeps failing ---------------------------------------------------------------------------


def poison_messages(stack: LocalStack) -> list[dict[str, Any]]:
    queue = QueueClient.from_connection_string(
        stack.env["AzureWebJobsStorage"],
        "regsync-pushes-poison",
        message_decode_policy=TextBase64DecodePolicy(),
    )
    try:
        return [json.loads(message.content) for message in queue.peek_messages(max_messages=32)]
    except ResourceNotFoundError:  # the host creates the poison queue on first use
        return []


def test_a_push_that_keeps_failing_is_retried_with_azures_delay_then_fails_once_and_is_announced(
    stack: LocalStack, ml: Callable[[str], Any], store: StateStore, admin: EmulatorAdmin, model_folder: Path
) -> None:
    """Issue 8 (7): a temporary failure is re-sent with the delay AzureML asked for (Retry-After), the
    attempt limit is REGSYNC_MAX_PUSH_ATTEMPTS (3 here) counted in the message, and then the push fails
    for good exactly once: one failed row, one PushFailed event, and no message left in the poison queue."""
    version = new_version()
    ref = AssetRef(kind=AssetKind.MODEL, name=BERT, version=version)
    admin.set_fault(
        f"/workspaces/workspace2/models/{BERT}/versions/{version}$",
        status=500,
        method="PUT",
        count=10_000,
        retry_after=1,
    )
    try:
        register_model(ml, "workspace3", BERT, version, model_folder)
        ledger = wait_settled(stack, store, ref, BERT_TARGETS, "the ledger to settle")
    finally:
        admin.clear_faults()

    failed = ledger["push|workspace2"]
    assert (failed.status, failed.attempts) == (LedgerStatus.FAILED, 3)
    assert "gave up after 3 attempts" in failed.message and "500" in failed.message
    assert {ledger[f"push|{t}"].status for t in ("workspace1", "workspace4")} == {LedgerStatus.SUCCEEDED}
    assert model_in(ml, "workspace2", BERT, version) is None
    [announced] = published(stack, "RegSync.PushFailed", ref)
    assert (announced["data"]["target"], announced["data"]["correlation_id"]) == (
        "workspace2",
        failed.correlation_id,
    )
    assert announced["data"]["error"] == failed.message
    assert [m for m in poison_messages(stack) if m["version"] == version] == []


# --- reconcile: events are hints, the timer is the guarantee ---------------------------------------------


def test_the_timer_reconcile_picks_up_an_asset_whose_event_was_lost(
    stack: LocalStack, ml: Callable[[str], Any], store: StateStore, admin: EmulatorAdmin, model_folder: Path
) -> None:
    version = new_version()
    ref = AssetRef(kind=AssetKind.MODEL, name=CREDIT, version=version)
    with events_lost(admin):
        register_model(ml, "workspace1", CREDIT, version, model_folder)
    assert not [d for d in admin.deliveries() if d["subject"] == f"models/{CREDIT}:{version}"]
    assert not reconcile_ran(stack)

    reply = httpx.post(
        f"{stack.host_url}/admin/functions/schedule_reconcile",
        params={"code": stack.env["REGSYNC_MASTER_KEY"]},
        json={"input": ""},
    )

    assert reply.status_code == 202
    pushed = wait_for(lambda: model_in(ml, "workspace3", CREDIT, version), what="the model in workspace3")
    assert pushed.tags["regsync.origin.workspace"] == "workspace1"
    ledger = wait_settled(stack, store, ref, ("workspace3",), "the ledger to settle")
    assert (ledger["share"].status, ledger["share"].event_ids) == (LedgerStatus.SUCCEEDED, ())
    assert model_in(ml, "workspace2", CREDIT, version) is None
