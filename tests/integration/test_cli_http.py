"""`regsync --api URL --key K --principal P ...`: the operations through the HTTP API of the real app.

The real function_app is served by devstack's LocalHost in-process (uvicorn in a thread, as
tests/devstack does), with `shared.runtime.engine` pointed at the test's `seeded` engine and a known
function key; the CLI is driven with CliRunner. Its queue and timer workers watch queues of their own and
a yearly schedule, so nothing runs behind the test's back.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from devstack.host import HostConfig, HostKeys, LocalHost
from shared import runtime
from shared.cli import app
from shared.cli import backend as cli_backend
from shared.engine import Engine
from shared.records import AuditRecord
from shared.settings import Settings
from tests.conftest import registered_functions
from tests.devstack.conftest import NEVER, serve
from tests.integration.conftest import cli_env, register_model
from tests.integration.test_cli import table_rows

pytestmark = pytest.mark.integration

KEYS = HostKeys(function="cli-test-function-key", master="cli-test-master-key", eventgrid="cli-test-eg-key")
PROVIDER = [{"typ": "name", "val": "ops@provider"}, {"typ": "roles", "val": "regsync.provider"}]
DISPLAY = {"NO_COLOR": "1", "COLUMNS": "250", "REGSYNC_FUNCTION_KEY": "", "REGSYNC_PRINCIPAL": ""}
Run = Callable[..., Result]


def principal(claims: list[dict[str, str]]) -> str:
    document = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims}
    return base64.b64encode(json.dumps(document).encode()).decode()


def tenant(tenant_id: str) -> list[dict[str, str]]:
    return [
        {"typ": "name", "val": f"someone@{tenant_id}"},
        {"typ": "roles", "val": "regsync.tenant"},
        {"typ": "regsync_tenant", "val": tenant_id},
    ]


@pytest.fixture
def api_url(seeded: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The real app on a free port, its functions on the test's engine."""
    import function_app

    # Index the app for the session's other modules first: azure-functions refuses a second
    # get_functions(), and devstack's discover() (below) forgets the earlier one before indexing again.
    registered_functions()
    monkeypatch.setattr(runtime, "engine", lambda: seeded)
    suffix = uuid.uuid4().hex[:10]
    assert settings.storage_connection_string is not None
    host_settings = {
        "AzureWebJobsStorage": settings.storage_connection_string,
        # The host's workers get empty queues of their own: pushes stay where the test can see them.
        "REGSYNC_PUSH_QUEUE": f"cli-http-pushes-{suffix}",
        "REGSYNC_RECONCILE_QUEUE": f"cli-http-reconciles-{suffix}",
        "REGSYNC_OUTBOX_QUEUE": f"cli-http-outbox-{suffix}",
        "REGSYNC_RECONCILE_SCHEDULE": NEVER,
    }
    host = LocalHost(
        function_app.app, settings=host_settings, config=HostConfig(), keys=KEYS, poll_interval=0.1
    )
    with serve(host) as running:
        yield running.base_url


@pytest.fixture
def over_http(api_url: str) -> Run:
    """The CLI with `--api`, the right key and (by default) the provider's principal."""

    def invoke(
        *args: str, key: str = KEYS.function, caller: list[dict[str, str]] | None = PROVIDER
    ) -> Result:
        options = ["--api", api_url, "--key", key]
        if caller is not None:
            options += ["--principal", principal(caller)]
        return CliRunner().invoke(app, [*options, *args], env=DISPLAY)

    return invoke


@pytest.fixture
def in_process(settings: Settings, seeded: Engine) -> Run:
    """The CLI on the test's tables and queues directly, as test_cli_operations runs it."""
    env = {**cli_env(settings), **DISPLAY}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr
    return result


def test_status_over_http_is_the_status_in_process(
    over_http: Run, in_process: Run, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    synced = json.loads(ok(over_http("--json", "sync", "--workspace", "workspace1")).stdout)
    subject = f"model credit-card-default:{version}"
    assert {
        (o["action"], o["target"], o["status"]) for o in synced["outcomes"] if o["subject"] == subject
    } >= {
        ("share", "regsync-registry", "succeeded"),
        ("push", "workspace3", "pending"),
    }

    direct, via_api = ok(in_process("status")), ok(over_http("status"))

    assert via_api.stdout == direct.stdout
    label = f"model credit-card-default:{version}"
    assert [label, "workspace1", "✓", "·", "·", "…", "·", "·"] in table_rows(via_api.stdout)
    assert ok(over_http("--json", "status")).stdout == ok(in_process("--json", "status")).stdout
    narrowed = ok(over_http("status", "--workspace", "workspace3")).stdout
    assert narrowed == ok(in_process("status", "--workspace", "workspace3")).stdout
    trail = json.loads(ok(over_http("--json", "audit", "--limit", "50")).stdout)
    assert ("sync", "ops@provider") in {(record["action"], record["actor"]) for record in trail}


def test_plan_over_http_lists_the_share_and_the_push_and_changes_nothing(
    over_http: Run, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version

    planned = over_http("plan", "--workspace", "workspace1")

    rows = [row[:4] for row in table_rows(ok(planned).stdout)]
    assert ["share", f"model credit-card-default:{version}", "regsync-registry", "planned:share"] in rows
    assert ["push", f"model credit-card-default:{version}", "workspace3", "planned:enqueue"] in rows
    assert "nothing was changed" in planned.stderr
    assert list(seeded.store.list_ledger()) == [] and seeded.store.recent_audit() == []


def test_a_pull_refused_over_http_says_why_and_exits_1(
    over_http: Run, seeded: Engine, ml: Callable[[str], Any], model_folder: Path
) -> None:
    version = register_model(ml, "workspace1", "credit-card-default", model_folder).version
    ok(over_http("sync", "--workspace", "workspace1"))

    refused = over_http(
        "pull", "--workspace", "workspace2", "--name", "credit-card-default", "--version", version
    )

    assert refused.exit_code == 1
    assert f"pull of model credit-card-default:{version} into workspace2: refused" in refused.stdout
    assert "(not subscribed: no push rule sends" in refused.stdout
    assert seeded.store.get_entry(f"model:credit-card-default:{version}", "push|workspace2") is None


def test_a_tenant_principal_cannot_act_on_another_tenants_workspace(over_http: Run, seeded: Engine) -> None:
    refused = over_http("plan", "--workspace", "workspace3", caller=tenant("contoso"))

    assert refused.exit_code == 1
    # Another tenant's workspace is answered as an unknown one is (issue 9 section 4).
    assert refused.stderr.strip() == "workspace `workspace3` not found or not yours (HTTP 404)"
    own = ok(over_http("--json", "status", caller=tenant("contoso")))
    assert json.loads(own.stdout) == []  # nothing happened yet, and only contoso's view at that


def test_a_tenant_pages_through_its_own_audit_over_http_as_in_process(
    over_http: Run, in_process: Run, seeded: Engine
) -> None:
    for who in ("contoso", "northwind"):
        for index in range(3):
            record = AuditRecord("rules", "stored", f"{who} {index}", target=who, tenants=(who,))
            seeded.store.audit(record)

    first = ok(over_http("--json", "audit", "--limit", "2", caller=tenant("contoso")))
    assert [r["reason"] for r in json.loads(first.stdout)] == ["contoso 2", "contoso 1"]
    token = re.fullmatch(r"more records: add `--next (\S+)`", first.stderr.strip())
    assert token is not None, first.stderr
    second = ok(over_http("--json", "audit", "--limit", "2", "--next", token[1], caller=tenant("contoso")))
    assert [r["reason"] for r in json.loads(second.stdout)] == ["contoso 0"]
    assert second.stderr == ""
    # In-process, the provider reads one tenant's partition with --tenant, or the whole day without.
    mine = json.loads(ok(in_process("--json", "audit", "--tenant", "contoso")).stdout)
    assert [r["reason"] for r in mine] == ["contoso 2", "contoso 1", "contoso 0"]
    assert len(json.loads(ok(over_http("--json", "audit")).stdout)) == 6
    assert over_http("audit", "--next", "not-a-token").exit_code == 1


def test_a_wrong_key_or_no_principal_is_a_clear_401(over_http: Run) -> None:
    wrong = over_http("status", key="not-the-key")
    assert wrong.exit_code == 1
    assert "the API refused the function key (HTTP 401)" in wrong.stderr
    assert "not-the-key" not in wrong.stdout + wrong.stderr

    anonymous = over_http("status", caller=None)
    assert anonymous.exit_code == 1
    assert "no X-MS-CLIENT-PRINCIPAL header" in anonymous.stderr
    assert "pass `--principal` or set REGSYNC_PRINCIPAL (HTTP 401)" in anonymous.stderr
    assert KEYS.function not in anonymous.stdout + anonymous.stderr


def test_a_503_says_when_to_try_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's throttle reply (as functions/http_api.py writes it), without a host: a mock transport."""

    def throttled(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-functions-key"] == "k" and request.url.path == "/api/sync"
        body = {"error": {"code": "temporarily_unavailable", "message": "AzureML is throttling RegSync"}}
        return httpx.Response(503, json=body, headers={"Retry-After": "7"})

    real_client = httpx.Client
    transport = httpx.MockTransport(throttled)
    monkeypatch.setattr(cli_backend.httpx, "Client", lambda **kw: real_client(transport=transport, **kw))

    args = ["--api", "http://api.invalid", "--key", "k", "--principal", principal(PROVIDER)]
    result = CliRunner().invoke(app, [*args, "sync", "--workspace", "workspace1"], env=DISPLAY)

    assert result.exit_code == 1
    assert result.stderr.strip() == "AzureML is throttling RegSync; try again in 7 s (HTTP 503)"
