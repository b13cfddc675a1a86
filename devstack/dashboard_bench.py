"""Measures the status page at fleet size: `python -m devstack.dashboard_bench [--workspaces 100 --assets
1000]`. Not a test (speed is measured, never asserted); docs/dashboard.md quotes its table.

Fills a fresh Azurite with 10 tenants, WORKSPACES workspaces and ASSETS assets, each shared and pushed to
every workspace (a ledger of ASSETS x (WORKSPACES + 1) rows, states mixed), serves the app on the local
Functions host, then times the matrix fragment over HTTP (request time, bytes on the wire and of the HTML)
for a few views, and in Debian's Chromium the page from "Next page" to the table drawn.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from devstack.azurite import free_port, start_azurite
from devstack.stack import REPO_ROOT
from shared.domain import LedgerStatus, Registry, Tenant, Workspace
from shared.entities import ledger_entity
from shared.records import LedgerEntry
from shared.settings import Settings
from shared.storage import StateStore

KEY = "bench-function-key"
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
STATES = [LedgerStatus.SUCCEEDED] * 16 + [LedgerStatus.FAILED, LedgerStatus.AWAITING_APPROVAL]


def principal(claims: list[tuple[str, str]]) -> str:
    body = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles"}
    body["claims"] = [{"typ": typ, "val": val} for typ, val in claims]  # type: ignore[assignment]
    return base64.b64encode(json.dumps(body).encode()).decode()


PROVIDER = principal([("name", "bench@provider"), ("roles", "regsync.provider")])
TENANT = principal([("name", "bench@t3"), ("roles", "regsync.tenant"), ("regsync_tenant", "t3")])


def fill(store: StateStore, workspaces: int, assets: int) -> None:
    store.ensure_tables()
    store.put_registry(
        Registry(name="reg", subscription_id=SUBSCRIPTION, resource_group="rg", regions=["eastus"])
    )
    for tenant in range(10):
        store.put_tenant(Tenant(id=f"t{tenant}", display_name=f"T{tenant}"))
    names = [f"ws{index:03d}" for index in range(workspaces)]
    for index, name in enumerate(names):
        store.put_workspace(
            Workspace(
                name=name,
                tenant=f"t{index % 10}",
                subscription_id=SUBSCRIPTION,
                resource_group="rg",
                region="eastus",
            )
        )
    now = datetime.now(UTC)

    def asset(number: int) -> None:
        key = f"model:model-{number:05d}:1"
        origin = names[number % workspaces]
        rows = [LedgerEntry(key, "share", LedgerStatus.SUCCEEDED, 1, updated=now, detail={"origin": origin})]
        rows += [
            LedgerEntry(key, f"push|{ws}", STATES[(number + i) % len(STATES)], 1, message="x", updated=now)
            for i, ws in enumerate(names)
        ]
        for start in range(0, len(rows), 100):
            store.ledger.submit_transaction(
                [("upsert", ledger_entity(row)) for row in rows[start : start + 100]]
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(asset, range(assets)))


def timed(client: httpx.Client, path: str, who: str) -> tuple[float, int, int, int]:
    """Seconds, bytes on the wire (gzip when the app compresses), bytes of the body, status."""
    headers = {"x-functions-key": KEY, "X-MS-CLIENT-PRINCIPAL": who}
    started = time.perf_counter()
    reply = client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    return elapsed, reply.num_bytes_downloaded, len(reply.content), reply.status_code


def in_browser(url: str) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
        context = driver.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
            ],
            viewport={"width": 1366, "height": 768},
        )
        page = context.new_page()
        page.goto(f"{url}/api/ui")
        page.get_by_label("Function key").fill(KEY)
        page.get_by_label("App Service principal", exact=False).fill(base64.b64decode(PROVIDER).decode())
        page.get_by_role("button", name="Sign in").click()
        page.locator("#assets").wait_for(timeout=120_000)
        started = time.perf_counter()
        page.get_by_role("button", name="Next page").click()
        page.locator("caption", has_text="after").wait_for(timeout=120_000)
        elapsed = time.perf_counter() - started
        context.close()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--assets", type=int, default=1000)
    args = parser.parse_args()
    with start_azurite() as azurite:
        settings = Settings(storage_connection_string=azurite.connection_string, table_prefix="bench")
        started = time.perf_counter()
        fill(StateStore.from_settings(settings), args.workspaces, args.assets)
        took = time.perf_counter() - started
        print(f"filled {args.assets} assets x {args.workspaces + 1} targets in {took:.0f} s")
        port = free_port()
        env = {
            **os.environ,
            "AzureWebJobsStorage": azurite.connection_string,
            "REGSYNC_TABLE_PREFIX": "bench",
            "REGSYNC_LOCAL_FUNCTION_KEY": KEY,
            "REGSYNC_RECONCILE_SCHEDULE": "0 0 0 1 1 *",
        }
        settings_file = str(REPO_ROOT / "local.settings.example.json")  # the queues' names; env wins
        command = [sys.executable, "-m", "devstack.host", "--app", "function_app:app", "--port", str(port)]
        command += ["--settings", settings_file]
        log_path = Path(tempfile.gettempdir()) / f"dashboard-bench-host-{port}.log"
        print(f"host log: {log_path}")
        with log_path.open("wb") as log:
            host = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=300) as client:
                deadline = time.monotonic() + 300
                while host.poll() is None and time.monotonic() < deadline:
                    try:
                        client.get("/api/ui")
                        break
                    except httpx.TransportError:
                        time.sleep(0.5)
                timed(client, "/api/ui/matrix", PROVIDER)  # warm: the world cache, imports
                views = [
                    ("provider, first page (50 assets x 101 columns)", "/api/ui/matrix", PROVIDER),
                    ("provider, page 11", "/api/ui/matrix?after=model:model-00499:1", PROVIDER),
                    ("provider, one workspace", "/api/ui/matrix?workspace=ws042", PROVIDER),
                    ("provider, state failed", "/api/ui/matrix?state=failed", PROVIDER),
                    (
                        "provider, state conflict (no cell: scan budget)",
                        "/api/ui/matrix?state=conflict",
                        PROVIDER,
                    ),
                    (
                        "provider, name starting with model-00999",
                        "/api/ui/matrix?search=model-00999",
                        PROVIDER,
                    ),
                    ("tenant t3 (10 workspaces), first page", "/api/ui/matrix", TENANT),
                    ("GET /api/status, provider (whole ledger, JSON)", "/api/status", PROVIDER),
                ]
                print(f"{'view':52} {'status':>6} {'seconds':>8} {'wire KiB':>9} {'body KiB':>9}")
                for label, path, who in views:
                    elapsed, wire, size, status = timed(client, path, who)
                    print(f"{label:52} {status:>6} {elapsed:>8.2f} {wire / 1024:>9.0f} {size / 1024:>9.0f}")
            print(f"browser: 'Next page' to the table drawn: {in_browser(url):.2f} s")
        finally:
            host.terminate()
            host.wait(timeout=30)


if __name__ == "__main__":
    main()
