"""Issue 13's browser tests: the status page (`GET /api/ui`) in a real headless Chromium against the whole
local stack, signed in as the provider or as a tenant the way a person does on the local stack (function
key and principal in the sign-in form).

One stack for the module. `scene` puts the fleet in the states the tests look at, through the real SDK as
tenants would: a model shared by Northwind and pushed to Contoso's workspace2 behind an approval gate
(and refused for Litware's workspace5, outside the registry's regions), and a model whose push to
workspace2 keeps failing (the emulator's injected 500s) while its other pushes succeed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from devstack.emulator.launch import EmulatorAdmin
from devstack.stack import LocalStack
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.storage import StateStore
from tests.browser.conftest import PROVIDER, screenshot, signed_in, tenant
from tests.e2e.conftest import REPO
from tests.support import wait_for

pytestmark = pytest.mark.e2e

GATED = "bert-gated"  # Northwind's (bert-*), pushed to workspace2 only with the provider's approval
FAILING = "bert-base-uncased_fine-tuned"  # pushed to workspaces 1, 2 and 4; workspace2's push fails
GATE_POLICY = f"""\
version: 1
push:
  - id: provider-gates-bert-for-contoso
    targets: {{workspaces: [workspace2]}}
    assets: {{kinds: [model], include: [{GATED}]}}
    gate: approval
"""
OTHER_TENANTS_THINGS = (
    "workspace1",
    "workspace2",
    "workspace4",
    "workspace5",
    "contoso",
    "woodgrove",
    "litware",
)


@dataclass(frozen=True)
class Scene:
    gated: AssetRef
    failing: AssetRef


def _register(ml: Callable[[str], Any], workspace: str, ref: AssetRef, folder: Path) -> None:
    from azure.ai.ml.entities import Model

    ml(workspace).models.create_or_update(Model(name=ref.name, version=ref.version, path=str(folder)))


def _state(store: StateStore, ref: AssetRef, target: str) -> LedgerStatus | None:
    entry = store.get_entry(ref.key, target)
    return entry.status if entry else None


def _settled(store: StateStore, ref: AssetRef, wanted: dict[str, LedgerStatus]) -> None:
    wait_for(
        lambda: all(_state(store, ref, target) is state for target, state in wanted.items()),
        what=f"{ref} to reach {wanted}",
        timeout=120,
    )


@pytest.fixture(scope="module")
def scene(
    stack: LocalStack,
    ml: Callable[[str], Any],
    store: StateStore,
    admin: EmulatorAdmin,
    tmp_path_factory: pytest.TempPathFactory,
) -> Scene:
    directory = tmp_path_factory.mktemp("scene")
    policy = directory / "gate.yaml"
    policy.write_text(GATE_POLICY, encoding="utf-8")
    command = [sys.executable, "-m", "shared.cli", "--env-file", str(stack.state_dir / "stack.env")]
    done = subprocess.run(
        [*command, "policy", "load", str(policy)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    folder = directory / "model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(uuid.uuid4().bytes)
    version = uuid.uuid4().hex[:8]
    gated = AssetRef(kind=AssetKind.MODEL, name=GATED, version=version)
    failing = AssetRef(kind=AssetKind.MODEL, name=FAILING, version=version)
    admin.set_fault(
        f"/workspaces/workspace2/models/{FAILING}/versions/{version}$", status=500, method="PUT", count=10_000
    )
    try:
        _register(ml, "workspace3", gated, folder)
        _register(ml, "workspace3", failing, folder)
        _settled(
            store, gated, {"share": LedgerStatus.SUCCEEDED, "push|workspace2": LedgerStatus.AWAITING_APPROVAL}
        )
        _settled(
            store,
            failing,
            {
                "share": LedgerStatus.SUCCEEDED,
                "push|workspace1": LedgerStatus.SUCCEEDED,
                "push|workspace2": LedgerStatus.FAILED,
            },
        )
    finally:
        admin.clear_faults()
    return Scene(gated, failing)


def cell(page: Page, ref: AssetRef, target: str) -> Any:
    return page.locator(f'tr[data-asset="{ref.key}"] button.cell[data-target="{target}"]')


def column_headers(page: Page) -> list[str]:
    expect(page.locator("#assets")).to_be_visible()
    return page.locator("#assets thead th").all_inner_texts()


def test_the_provider_sees_every_tenant(browser: BrowserContext, stack: LocalStack, scene: Scene) -> None:
    page = signed_in(browser, stack, PROVIDER)

    headers = column_headers(page)
    assert headers[:3] == ["Asset", "Origin", "registry"]
    assert set(headers[3:]) >= {"workspace1", "workspace2", "workspace3", "workspace4", "workspace5"}
    tenants = page.get_by_label("Tenant").locator("option").all_inner_texts()
    assert set(tenants) >= {"contoso", "northwind", "woodgrove", "litware"}
    expect(cell(page, scene.gated, "workspace2")).to_have_attribute("data-state", "awaiting_approval")


def test_a_tenant_sees_only_its_own_workspaces_and_nothing_of_other_tenants(
    browser: BrowserContext, stack: LocalStack, scene: Scene
) -> None:
    page = signed_in(browser, stack, tenant("northwind"))

    assert column_headers(page) == ["Asset", "Origin", "registry", "workspace3"]
    expect(cell(page, scene.gated, "registry")).to_have_attribute("data-state", "succeeded")
    text = page.locator("main").inner_text()
    assert not [name for name in OTHER_TENANTS_THINGS if re.search(rf"\b{name}\b", text)], text
    assert page.get_by_role("button", name="Approve this push").count() == 0
    screenshot(page, "dashboard-tenant.png")


def test_a_crafted_url_for_another_tenants_workspace_shows_nothing_of_it(
    browser: BrowserContext, stack: LocalStack, scene: Scene
) -> None:
    page = signed_in(browser, stack, tenant("northwind"), "?workspace=workspace2")

    expect(page.get_by_role("alert")).to_have_text("workspace `workspace2` not found or not yours")
    expect(page.locator("#assets")).to_have_count(0)
    # The detail of a cell of that workspace, asked for directly with the page's own credentials.
    reply = page.evaluate(
        """async (query) => {
            const headers = {"x-functions-key": sessionStorage.getItem("regsync.key"),
                             "X-MS-CLIENT-PRINCIPAL": sessionStorage.getItem("regsync.principal")};
            const response = await fetch(`ui/cell?${query}`, {headers});
            return [response.status, await response.text()];
        }""",
        f"kind=model&name={GATED}&version={scene.gated.version}&target=workspace2",
    )
    assert reply[0] == 404 and "not found or not yours" in reply[1] and scene.gated.version not in reply[1]


def test_a_filter_narrows_the_matrix(browser: BrowserContext, stack: LocalStack, scene: Scene) -> None:
    page = signed_in(browser, stack, PROVIDER)
    expect(page.locator("#assets tbody tr").first).to_be_visible()
    before = page.locator("#assets tbody tr").count()

    page.get_by_label("Name starts with").fill("bert-g")
    page.get_by_label("State").select_option("awaiting_approval")
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"search=bert-g"))
    rows = page.locator("#assets tbody th")
    expect(rows).to_have_count(1)
    assert rows.first.inner_text() == f"model {GATED}:{scene.gated.version}"
    assert before > 1


def test_a_cell_opens_its_detail_and_a_failed_push_shows_its_reason(
    browser: BrowserContext, stack: LocalStack, store: StateStore, scene: Scene
) -> None:
    page = signed_in(browser, stack, PROVIDER, "?kind=model")

    cell(page, scene.failing, "workspace2").click()

    detail = page.get_by_role("region", name=f"model {FAILING}:{scene.failing.version} in workspace2")
    expect(detail).to_be_focused()
    failed = store.get_entry(scene.failing.key, "push|workspace2")
    assert failed is not None and failed.message
    expect(detail.locator("#detail-state")).to_contain_text("failed")
    expect(detail.locator("#detail-reason")).to_have_text(failed.message)
    expect(detail.locator("#lineage")).to_contain_text("workspace3")  # the origin workspace
    expect(detail.locator("#audit")).to_contain_text("failed")
    screenshot(page, "dashboard-provider.png")
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()


def test_the_keyboard_focus_stays_on_its_cell_when_the_page_refreshes_itself(
    browser: BrowserContext, stack: LocalStack, scene: Scene
) -> None:
    page = signed_in(browser, stack, PROVIDER)
    target = cell(page, scene.failing, "workspace1")
    target.focus()
    refreshed = page.locator("#updated").inner_text()

    expect(page.locator("#updated")).not_to_have_text(refreshed)  # the page's own poll replaced the grid

    expect(cell(page, scene.failing, "workspace1")).to_be_focused()
    page.keyboard.press("Enter")
    title = f"model {FAILING}:{scene.failing.version} in workspace1"
    expect(page.locator("#detail-title")).to_have_text(title)


def test_the_plan_of_a_scope_lists_what_would_happen_and_why(
    browser: BrowserContext, stack: LocalStack, scene: Scene
) -> None:
    page = signed_in(browser, stack, PROVIDER, "?workspace=workspace5")

    page.get_by_role("button", name="Plan (dry run)").click()

    plan = page.get_by_role("region", name="Plan (dry run) of workspace")
    expect(plan).to_be_visible()
    expect(plan.locator("li").first).to_contain_text("westus")  # why: outside the registry's regions


def test_approve_moves_a_gated_push_to_pending_then_succeeded(
    browser: BrowserContext, stack: LocalStack, store: StateStore, scene: Scene
) -> None:
    page = signed_in(browser, stack, PROVIDER, f"?search={GATED}")
    cell(page, scene.gated, "workspace2").click()
    page.once("dialog", lambda dialog: dialog.accept())

    page.get_by_role("button", name="Approve this push").click()

    expect(page.get_by_role("status")).to_contain_text("pending")  # queued: the push's message is sent
    expect(cell(page, scene.gated, "workspace2")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#detail-state")).to_contain_text("succeeded")
    approved = [r for r in store.recent_audit(limit=200) if r.action == "approve" and GATED in r.subject]
    assert [r.actor for r in approved] == ["ops@provider"]


def test_a_tenant_syncs_its_own_scope_now(
    browser: BrowserContext, stack: LocalStack, store: StateStore, scene: Scene
) -> None:
    # Last, and Woodgrove's: a sync re-queues failed pushes into the workspaces it reaches.
    page = signed_in(browser, stack, tenant("woodgrove"))
    page.once("dialog", lambda dialog: dialog.accept())

    page.get_by_role("button", name="Sync now").click()

    expect(page.get_by_role("status")).to_contain_text("Sync of tenant:")
    expect(page.locator("#problem")).to_be_empty()
    synced = [r for r in store.recent_audit(tenant="woodgrove", limit=200) if r.action == "sync"]
    assert [r.actor for r in synced] == ["someone@woodgrove"]
