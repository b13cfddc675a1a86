"""The `regsync` CLI in-process (typer's CliRunner) against a real Azurite, on the seed policy.

Each test uses its own table prefix. Tables for people are compared row by row; --json output is parsed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from devstack.emulator.launch import RunningEmulator
from shared.cli import app

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "seed-policy.yaml"
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
Run = Callable[..., Result]


def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def runner_for(connection_string: str, table_prefix: str) -> Run:
    env = {
        "AzureWebJobsStorage": connection_string,
        "REGSYNC_TABLE_PREFIX": table_prefix,
        "REGSYNC_AZUREML_EMULATOR": "true",  # explain plans as the engine does: it reads the registry
        "NO_COLOR": "1",
        "COLUMNS": "250",  # one table row per line, so rows can be compared as text
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    return run


@pytest.fixture
def run(storage_connection_string: str, emulator: RunningEmulator) -> Run:
    return runner_for(storage_connection_string, prefix())


@pytest.fixture
def seeded(run: Run) -> Run:
    result = run("policy", "load", str(SEED))
    assert result.exit_code == 0, result.stderr
    return run


def table_rows(output: str) -> list[list[str]]:
    """The rows of a rich table printed without colour: columns are separated by 2+ spaces."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    rule = next(index for index, line in enumerate(lines) if set(line) == {"─"})
    return [re.split(r"\s{2,}", line) for line in lines[rule + 1 :]]


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_loading_the_seed_reports_what_it_stored(run: Run) -> None:
    result = run("policy", "load", str(SEED))
    assert result.exit_code == 0
    assert result.stdout == ""  # messages go to stderr
    assert "loaded (5 share rules, 5 push rules, 4 tenants, 5 workspaces, 1 registry)" in result.stderr


def test_tenant_and_workspace_tables(seeded: Run) -> None:
    assert table_rows(seeded("tenant", "list").stdout) == [
        ["contoso", "Contoso"],
        ["litware", "Litware"],
        ["northwind", "Northwind Traders"],
        ["woodgrove", "Woodgrove Bank"],
    ]
    rows = table_rows(seeded("workspace", "list", "--tenant", "contoso").stdout)
    assert rows == [
        ["workspace1", "contoso", "11111111-1111-1111-1111-111111111111", "rg-tenants", "eastus", "dev"],
        ["workspace2", "contoso", "11111111-1111-1111-1111-111111111111", "rg-tenants", "eastus", "prod"],
    ]
    assert "\x1b[" not in seeded("tenant", "list").stdout  # no colour when not a terminal


def test_lists_as_json(seeded: Run) -> None:
    workspaces = as_json(seeded("--json", "workspace", "list"))
    assert [item["name"] for item in workspaces] == [f"workspace{index}" for index in range(1, 6)]
    assert workspaces[3]["arm_id"].startswith("/subscriptions/22222222-2222-2222-2222-222222222222/")
    registries = as_json(seeded("--json", "registry", "list"))
    assert registries == [
        {
            "name": "regsync-registry",
            "subscription_id": "11111111-1111-1111-1111-111111111111",
            "resource_group": "rg-registry",
            "regions": ["eastus", "westeurope"],
        }
    ]
    rules = as_json(seeded("--json", "policy", "list"))
    assert [(rule["kind"], rule["id"]) for rule in rules][:2] == [
        ("share", "contoso-shares-credit-card"),
        ("share", "litware-shares-all"),
    ]
    assert len(rules) == 10


def test_policy_table(seeded: Run) -> None:
    rows = {row[0]: row[1:] for row in table_rows(seeded("policy", "list").stdout)}
    assert len(rows) == 10
    assert rows["provider-keeps-confidential"][:4] == [
        "share",
        "provider",
        "deny",
        "any kind; tags confidential=true",
    ]
    assert rows["northwind-gets-bert-back"] == [
        "push",
        "northwind",
        "allow",
        "model; include bert-base-uncased_fine-tuned",
        "workspaces workspace3; from tenants woodgrove; register, automatic, latest",
    ]


def test_export_then_load_round_trips(seeded: Run, storage_connection_string: str, tmp_path: Path) -> None:
    exported = seeded("policy", "export")
    assert exported.exit_code == 0
    file = tmp_path / "exported.yaml"
    file.write_text(exported.stdout)
    fresh = runner_for(storage_connection_string, prefix())
    assert fresh("policy", "load", str(file)).exit_code == 0
    assert fresh("policy", "export").stdout == exported.stdout
    assert as_json(fresh("--json", "policy", "list")) == as_json(seeded("--json", "policy", "list"))
    # Loading it back over the original with --replace changes nothing either.
    assert seeded("policy", "load", "--replace", str(file)).exit_code == 0
    assert seeded("policy", "export").stdout == exported.stdout


# explain is the engine's plan: it reads the (session-wide) emulator's registry, so the tests explain a
# version no test registers, which the registry does not hold.
UNREGISTERED = "9001"


def explain(run: Run, origin: str, name: str, *tags: str) -> dict[str, Any]:
    tag_args = [argument for tag in tags for argument in ("--tag", tag)]
    version = ("--version", UNREGISTERED)
    return dict(as_json(run("--json", "explain", "--workspace", origin, "--name", name, *version, *tag_args)))


def receivers(answer: dict[str, Any]) -> list[str]:
    return [target["workspace"] for target in answer["targets"] if target["allowed"]]


def reasons(answer: dict[str, Any]) -> dict[str, str]:
    return {target["workspace"]: target["reason"] for target in answer["targets"]}


def test_explain_credit_card_goes_to_workspace3_only(seeded: Run) -> None:
    answer = explain(seeded, "workspace1", "credit-card-default")
    assert answer["share"]["allowed"] is True
    assert answer["share"]["destination"] == f"credit-card-default:{UNREGISTERED}"
    assert answer["share"]["rule"] == "contoso-shares-credit-card"
    assert receivers(answer) == ["workspace3"]
    why = reasons(answer)
    assert "pushed by rule `northwind-gets-credit-card`" in why["workspace3"]
    assert f"where model credit-card-default:{UNREGISTERED} comes from" in why["workspace1"]
    # workspace2 (contoso) is not subscribed, and outside the audience as well, which is checked first.
    # workspace2 is contoso's own, so the audience does not stop it; no rule subscribes it.
    assert why["workspace2"].startswith("not subscribed")
    assert "limits its audience to tenants [northwind]; workspace4 belongs to woodgrove" in why["workspace4"]
    assert (
        why["workspace5"]
        == "workspace workspace5 is in westus, outside the registry's regions [eastus, westeurope]"
    )


def test_explain_fine_tuned_bert_goes_to_workspaces_1_2_and_4(seeded: Run) -> None:
    answer = explain(seeded, "workspace3", "bert-base-uncased_fine-tuned")
    assert answer["share"]["rule"] == "northwind-shares-bert"
    assert receivers(answer) == ["workspace1", "workspace2", "workspace4"]
    assert {answer["targets"][index]["rule"] for index in (0, 1, 3)} == {"provider-pushes-bert"}
    assert answer["targets"][0]["mode"] == "register"
    why = reasons(answer)
    assert "comes from; an origin never receives its own" in why["workspace3"]
    assert "outside the registry's regions" in why["workspace5"]


def test_explain_refuses_a_workspace_outside_the_registry_regions(seeded: Run) -> None:
    answer = explain(seeded, "workspace5", "bert-base-uncased_fine-tuned")
    assert answer["share"] == {
        "allowed": False,
        "step": "refused",
        "reason": "workspace workspace5 is in westus, outside the registry's regions [eastus, westeurope]",
        "rule": None,
        "destination": None,
        "audience": None,
    }
    assert receivers(answer) == []


def test_explain_confidential_is_denied_by_the_provider(seeded: Run) -> None:
    answer = explain(seeded, "workspace1", "credit-card-default", "confidential=true")
    assert answer["share"]["allowed"] is False
    assert answer["share"]["rule"] == "provider-keeps-confidential"
    assert answer["share"]["reason"] == "denied by share rule `provider-keeps-confidential` of the provider"
    assert receivers(answer) == []


def test_explain_table_for_people(seeded: Run) -> None:
    result = seeded(
        "explain", "--workspace", "workspace1", "--name", "credit-card-default", "--version", UNREGISTERED
    )
    assert result.exit_code == 0
    first, *_ = result.stdout.splitlines()
    assert first == (
        f"model credit-card-default:{UNREGISTERED} from workspace1: shared by rule "
        f"`contoso-shares-credit-card` of tenant contoso as credit-card-default:{UNREGISTERED}"
    )
    rows = {row[0]: row for row in table_rows(result.stdout)}
    assert rows["workspace3"][:6] == [
        "workspace3",
        "northwind",
        "westeurope",
        "yes",
        "northwind-gets-credit-card",
        "register, automatic, latest",
    ]
    assert rows["workspace5"][3] == "no"


def test_explain_names_what_is_unknown(seeded: Run) -> None:
    result = seeded("explain", "--workspace", "workspace9", "--name", "m", "--version", "1")
    assert (result.exit_code, result.stderr) == (1, "workspace `workspace9` is unknown\n")
    result = seeded("explain", "--workspace", "workspace1", "--name", "m'; drop", "--version", "1")
    assert result.exit_code == 1
    assert result.stderr.startswith("`name`: String should match pattern")


INVALID_POLICIES = [
    pytest.param("tenants:\n  - {id: acme\nshare: []\n", 3, "not valid YAML", id="bad-yaml"),
    pytest.param(
        "share:\n  - id: r1\n    colour: red\n",
        3,
        "share[0].colour: Extra inputs are not permitted",
        id="unknown-field",
    ),
    pytest.param(
        "push:\n  - id: r1\n    gate: whenever\n",
        3,
        "push[0].gate: Input should be 'automatic' or 'approval'",
        id="bad-enum",
    ),
    pytest.param(
        "share:\n  - id: r1\n    tenant: globex\n",
        3,
        "share[0].tenant: unknown tenant `globex`",
        id="unknown-tenant",
    ),
    pytest.param(
        "push:\n  - id: r1\n    targets: {workspaces: [workspace9]}\n",
        3,
        "push[0].targets.workspaces[0]: unknown workspace `workspace9`",
        id="unknown-workspace",
    ),
    pytest.param(
        "push:\n  - id: r1\n    tenant: contoso\n    targets:\n      workspaces: [workspace3]\n",
        5,
        "workspace `workspace3` belongs to tenant `northwind`, not to the rule's tenant `contoso`",
        id="other-tenants-workspace",
    ),
    pytest.param(
        "tenants:\n  - id: \"x' or ''='\"\n",
        2,
        "tenants[0].id: String should match pattern",
        id="hostile-tenant",
    ),
    pytest.param(
        "workspaces:\n  - name: \"ws'1 or ''='\"\n    tenant: contoso\n"
        f"    subscription_id: {SUBSCRIPTION}\n    resource_group: rg\n    region: eastus\n",
        2,
        "workspaces[0].name: String should match pattern",
        id="hostile-workspace",
    ),
    pytest.param(
        "tenants:\n  - {id: acme}\nshare:\n  - id: " + "r" * 300 + "\n",
        4,
        "share[0].id: String should match pattern",
        id="long-rule-id",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), INVALID_POLICIES)
def test_invalid_policy_files_are_refused_with_their_line_and_write_nothing(
    seeded: Run, tmp_path: Path, text: str, line: int, message: str
) -> None:
    before = seeded("policy", "export").stdout
    file = tmp_path / "bad.yaml"
    # A valid tenant first: a refused file must not store even the parts that were fine.
    file.write_text("tenants:\n  - {id: acme}\n" + text if not text.startswith("tenants") else text)
    shift = 0 if text.startswith("tenants") else 2
    result = seeded("policy", "load", str(file))
    assert result.exit_code == 1
    assert f"{file}:{line + shift}: " in result.stderr and message in result.stderr, result.stderr
    assert seeded("policy", "export").stdout == before
    validated = seeded("policy", "validate", "--check-store", str(file))
    assert (validated.exit_code, validated.stderr) == (1, result.stderr)


def test_validate_lists_every_problem_without_storage(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("share:\n  - id: a\n    tenant: acme\n  - id: a\n    effect: maybe\n")
    result = CliRunner().invoke(app, ["policy", "validate", str(file)], env={"AzureWebJobsStorage": ""})
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{file}:5: share[1].effect: Input should be 'allow' or 'deny'",
    ]
    file.write_text("share:\n  - id: a\n    tenant: acme\n  - id: a\n")
    result = CliRunner().invoke(
        app, ["--json", "policy", "validate", str(file)], env={"AzureWebJobsStorage": ""}
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"] == [
        {"line": 3, "where": "share[0].tenant", "message": "unknown tenant `acme`"},
        {"line": 4, "where": "share[1].id", "message": "rule id `a` is used twice"},
    ]
    valid = CliRunner().invoke(app, ["policy", "validate", str(SEED)], env={"AzureWebJobsStorage": ""})
    assert valid.exit_code == 0
    assert (
        valid.stdout == f"{SEED}: valid (5 share rules, 5 push rules, 4 tenants, 5 workspaces, 1 registry)\n"
    )


def test_a_rule_id_of_the_other_kind_is_refused_and_nothing_is_written(seeded: Run, tmp_path: Path) -> None:
    before = seeded("policy", "export").stdout
    file = tmp_path / "clash.yaml"
    file.write_text("tenants:\n  - {id: acme}\npush:\n  - id: provider-keeps-confidential\n")
    result = seeded("policy", "load", str(file))
    assert (result.exit_code, result.stderr) == (
        1,
        "rule id `provider-keeps-confidential` is stored as a rule of the other kind: "
        "remove it first, or load with replace\n",
    )
    assert seeded("policy", "export").stdout == before


def test_inventory_commands_and_their_errors(run: Run) -> None:
    assert run("tenant", "add", "acme", "--name", "Acme").exit_code == 0
    where = ["--subscription", SUBSCRIPTION, "--resource-group", "rg"]
    missing = run("workspace", "add", "ws-one", "--tenant", "globex", *where, "--region", "eastus")
    assert (missing.exit_code, missing.stderr) == (1, "tenant `globex` is unknown: add it first\n")
    added = run(
        "--json",
        "workspace",
        "add",
        "ws-one",
        "--tenant",
        "acme",
        *where,
        "--region",
        "eastus",
        "--stage",
        "prod",
    )
    assert as_json(added)["stage"] == "prod"
    busy = run("tenant", "remove", "acme")
    assert (busy.exit_code, busy.stderr) == (1, "tenant `acme` still has workspaces: remove them first\n")
    assert run("workspace", "remove", "ws-one").exit_code == 0
    assert run("tenant", "remove", "acme").exit_code == 0
    assert table_rows(run("tenant", "list").stdout) == []
    gone = run("policy", "remove", "nope")
    assert (gone.exit_code, gone.stderr) == (1, "rule `nope` is unknown\n")


@pytest.mark.parametrize("hostile", ["' or ''='", "acme' or PartitionKey ne '", "ünïcode", "a" * 261])
def test_hostile_arguments_are_refused_and_write_nothing(seeded: Run, hostile: str) -> None:
    before = seeded("policy", "export").stdout
    for args in (
        ("tenant", "add", hostile),
        ("tenant", "remove", hostile),
        ("workspace", "list", "--tenant", hostile),
    ):
        result = seeded(*args)
        assert result.exit_code == 1
        assert re.fullmatch(r"`(id|tenant)`: String should match pattern '.*'\n", result.stderr), (
            result.stderr
        )
    assert seeded("policy", "export").stdout == before


def test_usage_errors_exit_2(run: Run) -> None:
    assert run("tenant", "add").exit_code == 2
    assert run("explain", "--workspace", "workspace1").exit_code == 2
    assert (
        run("explain", "--workspace", "w", "--name", "n", "--version", "1", "--kind", "dataset").exit_code
        == 2
    )


def test_env_file_and_a_bad_key_never_print_the_connection_string(
    storage_connection_string: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The env file writes os.environ; monkeypatch restores both names afterwards.
    monkeypatch.setenv("AzureWebJobsStorage", "")
    monkeypatch.setenv("REGSYNC_TABLE_PREFIX", "unused")
    table_prefix = prefix()
    env_file = tmp_path / "stack.env"
    env_file.write_text(
        f"# local stack\nexport AzureWebJobsStorage='{storage_connection_string}'\n"
        f"REGSYNC_TABLE_PREFIX={table_prefix}\n"
    )
    assert CliRunner().invoke(app, ["--env-file", str(env_file), "tenant", "add", "acme"]).exit_code == 0
    assert table_rows(runner_for(storage_connection_string, table_prefix)("tenant", "list").stdout) == [
        ["acme"]
    ]
    key = re.search(r"AccountKey=([^;]+)", storage_connection_string)
    assert key is not None
    wrong = storage_connection_string.replace(key.group(1), "d3Jvbmcta2V5LXdyb25nLWtleQ==")
    result = CliRunner().invoke(
        app, ["--connection-string", wrong, "--table-prefix", table_prefix, "tenant", "add", "x"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("the storage request failed: ")
    assert (
        "AccountKey" not in result.output
        and key.group(1) not in result.output
        and "d3Jvbm" not in result.output
    )


def test_no_storage_configured_is_one_sentence() -> None:
    result = CliRunner().invoke(
        app, ["tenant", "list"], env={"AzureWebJobsStorage": "", "AzureWebJobsStorage__accountName": ""}
    )
    assert (result.exit_code, result.stderr) == (
        1,
        "no storage configured: set `AzureWebJobsStorage` (connection string) "
        "or `AzureWebJobsStorage__accountName` (managed identity)\n",
    )


def test_python_m_shared_cli_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "--help"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for noun in ("tenant", "workspace", "registry", "policy", "explain", "--json", "--env-file"):
        assert noun in result.stdout
