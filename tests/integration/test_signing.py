"""Signed provenance end to end (docs/provenance.md): Azurite, the emulator, the real azure-ai-ml SDK.

A share signs the model's files with the installation's key (a key file, as the local stack makes one);
a push that verifies refuses a registry copy whose bytes changed after the share (the emulator's admin
route overwrites one file in the registry's storage, as anyone with write access to that storage
account could: learn.microsoft.com, "Share models ... across workspaces with registries": the registry
keeps its own copy of the files); a share rule requiring the publisher's signature refuses an unsigned
or wrongly signed model and accepts one signed with `regsync sign`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devstack.emulator.launch import EmulatorAdmin
from devstack.private_files import write_private
from shared.admin import apply_document
from shared.cli import app
from shared.domain import AssetKind, AssetRef, LedgerStatus, Tenant
from shared.engine import PROVIDER, Engine
from shared.policy_file import parse_policy
from shared.queues import WorkQueue
from shared.runtime import build_engine
from shared.settings import Settings
from shared.signing.keys import FileKeySigner, new_private_key_pem
from shared.storage import StateStore
from tests.integration.conftest import SEED_POLICY, cli_env, drain_pushes, register_model

# The API tests' `call` fixture (it invokes the HTTP functions), serving `seeded`: here the signing engine.
from tests.integration.test_http_api import Call, call, tenant  # noqa: F401

REGISTRY = "regsync-registry"


def key_file(folder: Path, name: str) -> Path:
    path = folder / name
    write_private(path, new_private_key_pem())
    return path


@pytest.fixture
def signing(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "signing_key_file": key_file(tmp_path, "installation.pem"),
            "signature_container": f"sig-{uuid.uuid4().hex[:12]}",
            "eventgrid_topic_endpoint": "https://topic.invalid/api/events",  # RegSync's events are queued
            "outbox_queue": f"outbox-{uuid.uuid4().hex[:12]}",
        }
    )


@pytest.fixture
def seeded(signed: Engine[StateStore]) -> Engine[StateStore]:
    """The engine the API fixture (`call`) serves: the signing one."""
    return signed


@pytest.fixture
def signed(signing: Settings) -> Engine[StateStore]:
    engine = build_engine(signing)
    apply_document(engine.store, parse_policy(SEED_POLICY.read_text(), source=str(SEED_POLICY)))
    return engine


def put_rules(engine: Engine[StateStore], text: str) -> None:
    extra = parse_policy(
        text, known_tenants=["contoso", "northwind"], known_workspaces=engine.store.list_workspaces()
    )
    engine.store.put_policy(extra.policy)


def share(engine: Engine[StateStore], ml: Callable[[str], Any], name: str, folder: Path) -> AssetRef:
    model = register_model(ml, "workspace1", name, folder)
    origin = engine.store.get_workspace("workspace1")
    assert origin is not None
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
    engine.propagate(origin, ref, correlation_id=f"c-{name}")
    return ref


def events(settings: Settings) -> list[dict[str, Any]]:
    queue = WorkQueue.from_settings(settings, settings.outbox_queue)
    return [json.loads(message.content) for message in queue.client.peek_messages(max_messages=32)]


def verify_cli(settings: Settings, ref: AssetRef) -> tuple[int, str]:
    env = {**cli_env(settings), "REGSYNC_SIGNING_KEY_FILE": str(settings.signing_key_file)}
    env["REGSYNC_SIGNATURE_CONTAINER"] = settings.signature_container
    result = CliRunner().invoke(app, ["verify", f"{ref.name}:{ref.version}"], env=env)
    return result.exit_code, result.output


def test_a_signed_share_verifies_and_regsync_verify_says_who_signed_what(
    signed: Engine[StateStore], signing: Settings, ml: Callable[[str], Any], model_folder: Path
) -> None:
    name = f"signed-{uuid.uuid4().hex[:8]}"
    put_rules(signed, f"share: [{{id: s-{name}, tenant: contoso, assets: {{include: [{name}]}}}}]")

    ref = share(signed, ml, name, model_folder)

    tags = ml("registry").models.get(name, ref.version).tags
    assert tags["regsync.signature"] == f"model/{name}/{ref.version}/model.sig"
    assert len(tags["regsync.signature.digest"]) == 64
    report = signed.verify(ref, caller=PROVIDER)
    assert report.verification.valid, report.verification.reason
    assert report.verification.bytes_checked and report.verification.files == 2
    assert report.verification.origin == {  # signed with the files, not only tagged
        "tenant": "contoso",
        "workspace": "workspace1",
        "name": name,
        "version": ref.version,
    }
    code, output = verify_cli(signing, ref)
    assert code == 0, output
    assert "valid" in output and "workspace1" in output and "2 file(s) match" in output


def test_bytes_altered_in_the_registry_after_the_share_are_refused_at_push(
    signed: Engine[StateStore],
    signing: Settings,
    ml: Callable[[str], Any],
    model_folder: Path,
    admin: EmulatorAdmin,
) -> None:
    name = f"tampered-{uuid.uuid4().hex[:8]}"
    put_rules(
        signed,
        f"""
share: [{{id: s-{name}, tenant: contoso, assets: {{include: [{name}]}}}}]
push:
  - id: p-{name}
    tenant: northwind
    targets: {{workspaces: [workspace3]}}
    assets: {{include: [{name}]}}
    action: {{verify_signature: true}}
""",
    )
    ref = share(signed, ml, name, model_folder)
    admin.tamper_registry_file(REGISTRY, name, ref.version, "model.pkl", b"poisoned weights")

    [pushed] = drain_pushes(signed)

    assert pushed.status == "failed"
    assert pushed.reason.startswith("signature invalid: the bytes of")
    assert "model.pkl changed" in pushed.reason
    row = signed.store.get_entry(ref.key, "push|workspace3")
    assert row is not None and row.status is LedgerStatus.FAILED and "signature invalid" in row.message
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError):  # nothing reached the workspace
        ml("workspace3").models.get(name, ref.version)
    audited = signed.store.audit_page(tenant="northwind", limit=50).records
    assert any(record.action == "push" and "model.pkl changed" in record.reason for record in audited)
    failed = [event for event in events(signing) if event["event_type"] == "RegSync.PushFailed"]
    assert any("signature invalid" in event["data"]["error"] for event in failed)
    code, output = verify_cli(signing, ref)
    assert code == 1 and "model.pkl changed" in output


def test_provenance_tags_edited_after_the_share_no_longer_verify(
    signed: Engine[StateStore], ml: Callable[[str], Any], model_folder: Path
) -> None:
    # Tags and description are the mutable part of a registry version (Azure's model-version update
    # contract): anyone with write access can edit them, so the origin is signed with the files.
    name = f"retagged-{uuid.uuid4().hex[:8]}"
    put_rules(signed, f"share: [{{id: s-{name}, tenant: contoso, assets: {{include: [{name}]}}}}]")
    ref = share(signed, ml, name, model_folder)
    copy = ml("registry").models.get(name, ref.version)
    copy.tags = {**copy.tags, "regsync.origin.tenant": "northwind"}
    ml("registry").models.create_or_update(copy)

    report = signed.verify(ref, caller=PROVIDER)

    assert not report.verification.valid
    assert "provenance tags differ from the signed ones (regsync.origin.tenant)" in report.verification.reason
    assert report.verification.origin["tenant"] == "contoso"


def test_a_model_whose_files_cannot_be_found_is_shared_unsigned_and_says_why(
    signed: Engine[StateStore], ml: Callable[[str], Any]
) -> None:
    # A job's output in the emulator has no files (no job ran); in Azure a model always has its files.
    from azure.ai.ml.entities import Model

    name = f"job-output-{uuid.uuid4().hex[:8]}"
    put_rules(signed, f"share: [{{id: s-{name}, tenant: contoso, assets: {{include: [{name}]}}}}]")
    path = f"azureml://jobs/job-{uuid.uuid4().hex[:8]}/outputs/artifacts/paths/model/"
    model = ml("workspace1").models.create_or_update(Model(name=name, path=path, type="custom_model"))
    origin = signed.store.get_workspace("workspace1")
    assert origin is not None
    ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)

    [shared, *_] = signed.propagate(origin, ref, correlation_id="job")

    assert shared.status == "succeeded", shared.reason
    tags = ml("registry").models.get(name, ref.version).tags
    assert "regsync.signature" not in tags and "were not found" in tags["regsync.signature.missing"]
    report = signed.verify(ref, caller=PROVIDER)
    assert not report.verification.valid and "is unsigned (the files of" in report.verification.reason


def test_a_register_push_does_not_verify_unless_its_rule_asks(
    signed: Engine[StateStore], ml: Callable[[str], Any], model_folder: Path, admin: EmulatorAdmin
) -> None:
    name = f"plain-{uuid.uuid4().hex[:8]}"
    put_rules(
        signed,
        f"""
share: [{{id: s-{name}, tenant: contoso, assets: {{include: [{name}]}}}}]
push:
  - {{id: p-{name}, tenant: northwind, targets: {{workspaces: [workspace3]}}, assets: {{include: [{name}]}}}}
""",
    )
    ref = share(signed, ml, name, model_folder)
    admin.tamper_registry_file(REGISTRY, name, ref.version, "model.pkl", b"changed")

    assert [outcome.status for outcome in drain_pushes(signed)] == ["succeeded"]


def tenant_rule(engine: Engine[StateStore], name: str, publisher_key: Path | None) -> None:
    keys = (FileKeySigner(publisher_key).public_key_pem(),) if publisher_key else ()
    engine.store.put_tenant(Tenant(id="contoso", display_name="Contoso", signing_keys=keys))
    put_rules(
        engine,
        f"share: [{{id: s-{name}, tenant: contoso, require_signature: tenant, "
        f"assets: {{include: [{name}]}}}}]",
    )


def test_a_share_rule_requiring_the_tenants_signature_refuses_an_unsigned_model(
    signed: Engine[StateStore],
    signing: Settings,
    ml: Callable[[str], Any],
    model_folder: Path,
    tmp_path: Path,
) -> None:
    name = f"unsigned-{uuid.uuid4().hex[:8]}"
    tenant_rule(signed, name, key_file(tmp_path, "contoso.pem"))

    ref = share(signed, ml, name, model_folder)

    row = signed.store.get_entry(f"model:{name}:{ref.version}", "share")
    assert row is not None and row.status is LedgerStatus.REFUSED
    assert "is not signed: it has no model.sig" in row.message
    assert not list(ml("registry").models.list(name=name))  # nothing reached the registry
    code, output = verify_cli(signing, ref)
    assert code == 1 and "is unknown" in output


def test_a_share_rule_requiring_the_tenants_signature_accepts_a_model_signed_with_regsync_sign(
    signed: Engine[StateStore],
    signing: Settings,
    ml: Callable[[str], Any],
    model_folder: Path,
    tmp_path: Path,
) -> None:
    name = f"tenant-signed-{uuid.uuid4().hex[:8]}"
    publisher_key = key_file(tmp_path, "contoso.pem")
    tenant_rule(signed, name, publisher_key)
    signed_cli = CliRunner().invoke(app, ["sign", str(model_folder), "--key-file", str(publisher_key)])
    assert signed_cli.exit_code == 0, signed_cli.output

    ref = share(signed, ml, name, model_folder)

    row = signed.store.get_entry(ref.key, "share")
    assert row is not None and row.status is LedgerStatus.SUCCEEDED, row and row.message
    report = signed.verify(ref, caller=PROVIDER)
    assert report.verification.valid and report.verification.publisher == "contoso"
    code, output = verify_cli(signing, ref)
    assert code == 0 and "publisher signature: contoso" in output


@pytest.mark.parametrize(
    ("signer", "change", "reason"),
    [
        ("stranger.pem", None, "signature invalid: signed by an unknown key"),
        ("contoso.pem", "model.pkl", "its files differ from what model.sig signs (model.pkl changed)"),
        ("contoso.pem", "extra.bin", "its files differ from what model.sig signs (extra.bin added)"),
    ],
)
def test_a_share_rule_requiring_the_tenants_signature_refuses_another_key_and_changed_files(
    signed: Engine[StateStore],
    ml: Callable[[str], Any],
    model_folder: Path,
    tmp_path: Path,
    signer: str,
    change: str | None,
    reason: str,
) -> None:
    name = f"wrongly-signed-{uuid.uuid4().hex[:8]}"
    keys = {
        "contoso.pem": key_file(tmp_path, "contoso.pem"),
        "stranger.pem": key_file(tmp_path, "stranger.pem"),
    }
    tenant_rule(signed, name, keys["contoso.pem"])
    assert (
        CliRunner().invoke(app, ["sign", str(model_folder), "--key-file", str(keys[signer])]).exit_code == 0
    )
    if change is not None:  # a file changed (or was added) after the publisher signed
        (model_folder / change).write_bytes(b"after signing")

    ref = share(signed, ml, name, model_folder)

    row = signed.store.get_entry(ref.key, "share")
    assert row is not None and row.status is LedgerStatus.REFUSED
    assert reason in row.message


def test_a_tenant_verifies_through_the_api_only_what_reached_its_own_workspaces(
    signed: Engine[StateStore],
    call: Call,  # noqa: F811 (the fixture imported above)
    ml: Callable[[str], Any],
    model_folder: Path,
) -> None:
    name = f"api-{uuid.uuid4().hex[:8]}"
    put_rules(
        signed,
        f"""
share: [{{id: s-{name}, tenant: contoso, assets: {{include: [{name}]}}}}]
push:
  - {{id: p-{name}, tenant: northwind, targets: {{workspaces: [workspace3]}}, assets: {{include: [{name}]}}}}
""",
    )
    ref = share(signed, ml, name, model_folder)
    asked = {"name": name, "version": ref.version}

    mine = call("api_verify", params={**asked, "workspace": "workspace3"}, caller=tenant("northwind"))
    assert mine.status == 200, mine.body
    assert mine.body["valid"] and mine.body["origin"]["workspace"] == "workspace1"
    assert mine.body["bytes_checked"] and mine.body["files"] == 2
    # workspace4 is woodgrove's: the same answer as for a workspace that never received it.
    theirs = call("api_verify", params={**asked, "workspace": "workspace4"}, caller=tenant("northwind"))
    assert theirs.status == 404 and "not found or not yours" in theirs.error["message"]
    # contoso's own workspace2 never received this version: not found either.
    unsent = call("api_verify", params={**asked, "workspace": "workspace2"}, caller=tenant("contoso"))
    assert unsent.status == 404 and "not found or not yours" in unsent.error["message"]
    unnamed = call("api_verify", params=asked, caller=tenant("northwind"))
    assert unnamed.status == 400 and "`workspace`" in unnamed.error["message"]
    assert call("api_verify", params=asked).body["valid"]  # the provider names no workspace


def test_what_signing_adds_to_a_share_and_verifying_to_a_push_in_requests(
    signed: Engine[StateStore], ml: Callable[[str], Any], model_folder: Path, admin: EmulatorAdmin
) -> None:
    # Counted by the emulator's request log, as tests/integration/test_request_counts.py counts the hot
    # path (8 AzureML requests per share, 3 per push); the second round is a warm process's.
    name = f"counted-{uuid.uuid4().hex[:8]}"
    put_rules(
        signed,
        f"""
share: [{{id: s-{name}, tenant: contoso, assets: {{include: [{name}]}}}}]
push:
  - id: p-{name}
    tenant: northwind
    targets: {{workspaces: [workspace3]}}
    assets: {{include: [{name}]}}
    action: {{verify_signature: true}}
""",
    )
    origin = signed.store.get_workspace("workspace1")
    assert origin is not None
    counted = []
    for _ in range(2):
        model = register_model(ml, "workspace1", name, model_folder)
        ref = AssetRef(kind=AssetKind.MODEL, name=name, version=model.version)
        admin.reset_request_log()
        signed.propagate(origin, ref, correlation_id=f"c{model.version}")
        shared = admin.api_requests()
        admin.reset_request_log()
        assert [outcome.status for outcome in drain_pushes(signed)] == ["succeeded"]
        counted.append((shared, admin.api_requests()))
    shared, pushed = counted[1]
    hot_path = (  # the unsigned share's and push's own, pinned by test_request_counts (plus pollers)
        "GET /_ops/{op}",
        "GET /_ops/{op}/result",
        "POST /registries/{reg}/import",
        "GET /registries/{reg}/{kind}/{name}/versions",
        "PUT /registries/{reg}/{kind}/{name}/versions/{version}",
        "GET /workspaces/{ws}/{kind}/{name}/versions",
        "PUT /workspaces/{ws}/{kind}/{name}/versions/{version}",
    )
    for counts in (shared, pushed):
        for route in hot_path:
            counts.pop(route, None)
    assert shared == {
        "GET /workspaces/{ws}/{kind}/{name}/versions/{version}": 2,  # the source: 1 + models.download's own
        "GET /registries/{reg}/{kind}/{name}/versions/{version}": 1,  # the hot path's read for the tags
        "GET /workspaces/{ws}/datastores/{name}": 1,  # signing: where the files are
        "POST /workspaces/{ws}/datastores/{name}/listSecrets": 1,  # signing: the datastore's credential
        "HEAD /blob/{account}/{container}/{blob:path}": 1,  # signing: is the path a folder
        "GET /blob/{account}/{container}": 2,  # signing: list the folder
        "GET /blob/{account}/{container}/{blob:path}": 2,  # signing: one read per file (two files)
    }, shared
    assert pushed == {
        "GET /workspaces/{ws}/{kind}/{name}/versions/{version}": 1,  # the hot path's: is it there
        "GET /registries/{reg}/{kind}/{name}/versions/{version}": 1,  # verifying: models.download's get
        "POST /registries/{reg}/datarefs/{name}/versions/{version}": 1,  # verifying: a SAS for the copy
        "HEAD /{container}/{blob:path}": 1,  # verifying: the registry's storage, as above
        "GET /{container}": 2,
        "GET /{container}/{blob:path}": 2,
    }, pushed
