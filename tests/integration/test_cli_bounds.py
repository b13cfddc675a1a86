"""The `regsync` CLI against hostile input (issue 9 §3): a one-line error and exit 1, fast, nothing
written; free text without control characters; tables that never print a raw escape sequence.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.records import AuditRecord
from shared.settings import Settings
from shared.storage import StateStore
from tests.integration.test_cli import Run, prefix, runner_for, table_rows
from tests.unit.test_policy_file import BILLION_LAUGHS

pytestmark = pytest.mark.integration
NO_STORAGE = {"AzureWebJobsStorage": "", "AzureWebJobsStorage__accountName": ""}


@pytest.fixture
def run(storage_connection_string: str) -> Run:
    return runner_for(storage_connection_string, prefix())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(BILLION_LAUGHS, "1: anchors (`&a`) are not allowed in a policy", id="billion-laughs"),
        pytest.param("a: &a [*a]\n", "1: anchors (`&a`) are not allowed in a policy", id="recursive-alias"),
        pytest.param(
            "tenants:\n  - id: a\x00\n",
            "2: control character U+0000 is not allowed (write it escaped, or not at all)",
            id="nul",
        ),
        pytest.param("[" * 50_000, "1: the document is nested deeper than 32 levels", id="deep"),
    ],
)
def test_hostile_policy_files_are_one_line_and_exit_1_at_once(
    tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / "hostile.yaml"
    file.write_text(text, encoding="utf-8")
    # A hang (the alias bomb expanding) is caught by the suite's per-test timeout, not a timing assert.
    result = CliRunner().invoke(app, ["policy", "validate", str(file)], env=NO_STORAGE)
    assert (result.exit_code, result.stderr) == (1, f"{file}:{message}\n")


def test_a_hostile_policy_load_writes_nothing(run: Run, tmp_path: Path) -> None:
    file = tmp_path / "hostile.yaml"
    file.write_text("tenants:\n  - {id: acme}\n" + BILLION_LAUGHS, encoding="utf-8")
    result = run("policy", "load", str(file))
    assert (result.exit_code, result.stderr) == (1, f"{file}:3: anchors (`&a`) are not allowed in a policy\n")
    assert table_rows(run("tenant", "list").stdout) == []


def test_control_characters_in_free_text_are_refused_naming_the_field(run: Run) -> None:
    refused = run("tenant", "add", "acme", "--name", "Acme\x1b[2J")
    assert (refused.exit_code, refused.stderr) == (
        1,
        "`display_name`: control character U+001B is not allowed in free text\n",
    )
    assert table_rows(run("tenant", "list").stdout) == []
    approver = run(
        "approve", "--workspace", "workspace1", "--name", "m", "--version", "1", "--approver", "ops\x07"
    )
    assert (approver.exit_code, approver.stderr) == (
        1,
        "`approver`: control character U+0007 is not allowed in free text\n",
    )


def test_tables_escape_what_was_stored_before_the_check(storage_connection_string: str) -> None:
    table_prefix = prefix()
    store = StateStore.from_settings(
        Settings(storage_connection_string=storage_connection_string, table_prefix=table_prefix)
    )
    store.ensure_tables()
    # Written as an older RegSync could have: straight to the tables, past today's checks.
    store.inventory.upsert_entity(
        {"PartitionKey": "tenant", "RowKey": "acme", "display_name": "Acme\x1b[31mRED\x1b]0;pwned\x07"}
    )
    store.audit(AuditRecord("event", "ignored", "why\x1b[2J", subject="s\x1b[31m", target="e\u202e1"))
    run = runner_for(storage_connection_string, table_prefix)
    tenants = run("tenant", "list")
    assert tenants.exit_code == 0 and "\x1b" not in tenants.stdout and "\x07" not in tenants.stdout
    assert table_rows(tenants.stdout) == [["acme", "Acme\\x1b[31mRED\\x1b]0;pwned\\x07"]]
    audit = run("audit")
    assert audit.exit_code == 0, audit.stderr
    assert "\x1b" not in audit.stdout and "\u202e" not in audit.stdout
    assert "s\\x1b[31m" in audit.stdout and "e\\u202e1" in audit.stdout and "why\\x1b[2J" in audit.stdout
