"""infra/ (Bicep) parsed offline with pycep, checked against what RegSync needs and reads.

The Bicep CLI cannot run here; checkov lints the same files in `make test`. pycep turns each file into
JSON where identifiers are bare strings (`"pushQueue"`) and interpolations stay as written
(`"${pushQueue}-poison"`), so the assertions compare with those spellings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser
from pydantic import AliasChoices
from typer.testing import CliRunner

from shared.cli import app as cli
from shared.cli.deploy import render_parameters
from shared.policy_file import parse_policy
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
SEED = REPO / "examples" / "seed-policy.yaml"
# Settings RegSync reads that are not fields of shared/settings.py: the timer binding's schedule, the
# outbound-events queue of the outbox, and Application Insights (shared/telemetry.py configures the
# exporter when the connection string is set; the exporter authenticates with the identity it names).
EXTRA_SETTINGS = {
    "REGSYNC_RECONCILE_SCHEDULE",
    "REGSYNC_OUTBOX_QUEUE",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "d5a91429-5739-47e2-a06b-3470a27159e7": "EventGrid Data Sender",
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": "AzureML Data Scientist",
    "1823dd4f-9b8c-4ab6-ab4e-7397a3684615": "AzureML Registry User",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
}


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict[str, Any]]:
    """Every Bicep file under infra/, by its path relative to infra/."""
    parser = BicepParser(cache=False)
    return {
        str(path.relative_to(INFRA)): parser.parse(file_path=path) for path in sorted(INFRA.rglob("*.bicep"))
    }


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's own config, below its loop and condition wrappers."""
    config: dict[str, Any] = resource["config"]
    while "config" in config and ("loop_type" in config or "condition" in config):
        config = config["config"]
    return config


def ref(node: Any) -> Any:
    """`a.b.c` for pycep's nested property accessors; anything else as it is."""
    if isinstance(node, dict) and node.get("operator", {}).get("type") == "property_accessor":
        operands = node["operator"]["operands"]
        return f"{ref(operands['operand_1'])}.{ref(operands['operand_2'])}"
    return node


def of_type(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: item for name, item in document["resources"].items() if item["type"] == kind}


def role_id(assignment: dict[str, Any], variables: dict[str, Any]) -> list[str]:
    """The role definition ids an assignment (or a loop of them) grants, resolved through the variables."""

    def resolve(name: str) -> str:
        variable, _, key = name.partition(".")
        value = variables[variable]["value"] if variable in variables else name
        return str(value[key]) if key else str(value)

    config = assignment["config"]
    if "loop_type" in config:  # a loop over [roles.a, roles.b, ...]
        return [resolve(ref(item)) for item in config["loop_type"]["detail"]["array_name"]]
    function = body(assignment)["properties"]["roleDefinitionId"]["function"]["parameters"]
    return [resolve(ref(function["resource_name_1"]))]


def test_every_file_parses_and_main_declares_the_resources(parsed: dict[str, dict[str, Any]]) -> None:
    assert set(parsed) == {
        "main.bicep",
        "modules/workspace.bicep",
        "modules/registry.bicep",
        "modules/subscription-events.bicep",
    }
    kinds = {item["type"] for item in parsed["main.bicep"]["resources"].values()}
    assert kinds >= {
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.Insights/components",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Storage/storageAccounts/queueServices/queues",
        "Microsoft.Storage/storageAccounts/tableServices/tables",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.EventGrid/topics",
        "Microsoft.Web/serverfarms",
        "Microsoft.Web/sites",
        "Microsoft.Web/sites/config",
        "Microsoft.Insights/diagnosticSettings",
        "Microsoft.Insights/scheduledQueryRules",
    }


def test_flex_consumption_python_311_with_a_user_assigned_identity(parsed: dict[str, dict[str, Any]]) -> None:
    main = parsed["main.bicep"]
    plan = body(main["resources"]["plan"])
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = body(main["resources"]["app"])
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    authentication = config["deployment"]["storage"]["authentication"]
    assert authentication["type"] == "UserAssignedIdentity"
    assert ref(authentication["userAssignedIdentityResourceId"]) == "identity.id"


def test_storage_has_no_keys_and_telemetry_and_topic_take_entra_only(
    parsed: dict[str, dict[str, Any]],
) -> None:
    resources = parsed["main.bicep"]["resources"]
    storage = body(resources["storage"])["properties"]
    assert storage["allowSharedKeyAccess"] is False
    assert storage["allowBlobPublicAccess"] is False
    insights = body(resources["insights"])["properties"]
    assert ref(insights["WorkspaceResourceId"]) == "logs.id"
    assert insights["DisableLocalAuth"] is True
    assert body(resources["outboundTopic"])["properties"]["disableLocalAuth"] is True


def test_queues_with_poison_queues_and_tables_are_regsyncs(parsed: dict[str, dict[str, Any]]) -> None:
    main = parsed["main.bicep"]
    defaults = Settings()
    parameters = {name: item["default"] for name, item in main["parameters"].items()}
    assert parameters["pushQueue"] == defaults.push_queue
    assert parameters["reconcileQueue"] == defaults.reconcile_queue
    assert parameters["outboxQueue"] == "regsync-outbox"
    assert parameters["tablePrefix"] == defaults.table_prefix
    queues = main["variables"]["queueNames"]["value"]
    for queue in ("pushQueue", "reconcileQueue", "outboxQueue"):
        assert {queue, f"${{{queue}}}-poison"} <= set(queues)
    assert main["resources"]["queues"]["config"]["loop_type"]["detail"]["array_name"] == "queueNames"
    # The tables shared/storage.py opens, whatever it adds later.
    used = set(re.findall(r'f"\{prefix\}(\w+)"', (REPO / "shared" / "storage.py").read_text()))
    assert used, "shared/storage.py names no tables any more: update this test"
    assert set(main["variables"]["tableNames"]["value"]) == {f"${{tablePrefix}}{table}" for table in used}


def test_every_setting_regsync_reads_is_set_by_the_template(parsed: dict[str, dict[str, Any]]) -> None:
    main = parsed["main.bicep"]
    assert body(main["resources"]["app__settings"]) == {
        "name": "appsettings",
        "properties": "appSettings",
        "depends_on": ["app"],
    }
    settings = main["variables"]["appSettings"]["value"]
    read = set(EXTRA_SETTINGS)
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices)
        read.add(str(alias.choices[0]))  # the environment name; the second choice is the field's own
    # Storage is one of two: the identity-based account name in Azure, never a connection string.
    read.discard("AzureWebJobsStorage")
    assert "AzureWebJobsStorage" not in settings
    assert read <= set(settings), sorted(read - set(settings))
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["REGSYNC_AZUREML_EMULATOR"] == "false"
    # Flex Consumption refuses these (the runtime is functionAppConfig.runtime; the build is remote).
    assert not {"FUNCTIONS_WORKER_RUNTIME", "SCM_DO_BUILD_DURING_DEPLOYMENT"} & set(settings)


def test_push_attempts_default_to_the_settings_default(parsed: dict[str, dict[str, Any]]) -> None:
    """One source of truth for the attempt limit (issue 8): the setting, counted in the push message."""
    assert parsed["main.bicep"]["parameters"]["maxPushAttempts"]["default"] == Settings().max_push_attempts


def test_roles_on_storage_telemetry_topic_workspaces_and_registry(parsed: dict[str, dict[str, Any]]) -> None:
    granted: dict[str, set[str]] = {}
    for path, document in parsed.items():
        variables = document.get("variables", {})
        for assignment in of_type(document, "Microsoft.Authorization/roleAssignments").values():
            scope = f"{path}:{body(assignment)['scope']}"
            granted.setdefault(scope, set()).update(ROLES[role] for role in role_id(assignment, variables))
    assert granted == {
        "main.bicep:storage": {
            "Storage Blob Data Owner",
            "Storage Queue Data Contributor",
            "Storage Table Data Contributor",
        },
        "main.bicep:insights": {"Monitoring Metrics Publisher"},
        "main.bicep:outboundTopic": {"EventGrid Data Sender"},
        "main.bicep:vault": {"Key Vault Crypto User"},
        "modules/workspace.bicep:workspace": {"AzureML Data Scientist"},
        "modules/registry.bicep:registry": {"AzureML Registry User"},
    }


def test_modules_run_in_each_workspaces_and_the_registrys_subscription(
    parsed: dict[str, dict[str, Any]],
) -> None:
    modules = parsed["main.bicep"]["modules"]
    expected = {
        "workspaceAccess": ("modules/workspace.bicep", "workspace", "workspaces"),
        "armEvents": ("modules/subscription-events.bicep", "item", "subscriptions"),
    }
    for name, (path, item, array) in expected.items():
        module = modules[name]
        assert module["detail"]["path"] == path
        assert module["config"]["loop_type"]["detail"] == {"item_name": item, "array_name": array}
        scope = body(module)["scope"]["function"]
        assert scope["type"] == "resource_group"
        arguments = {key: ref(value) for key, value in scope["parameters"].items()}
        assert arguments == {
            "subscription_id": f"{item}.subscriptionId",
            "resource_group_name": f"{item}.resourceGroup",
        }
    registry = body(modules["registryAccess"])["scope"]["function"]["parameters"]
    assert {key: ref(value) for key, value in registry.items()} == {
        "subscription_id": "registry.subscriptionId",
        "resource_group_name": "registry.resourceGroup",
    }


@pytest.mark.parametrize(
    ("path", "subscription", "event_type"),
    [
        ("modules/workspace.bicep", "modelRegistered", "Microsoft.MachineLearningServices.ModelRegistered"),
        ("modules/subscription-events.bicep", "assetWrites", "Microsoft.Resources.ResourceWriteSuccess"),
    ],
)
def test_event_subscriptions_deliver_to_the_function_with_retries_and_dead_letters(
    parsed: dict[str, dict[str, Any]], path: str, subscription: str, event_type: str
) -> None:
    from tests.conftest import registered_functions

    document = parsed[path]
    (topic,) = of_type(document, "Microsoft.EventGrid/systemTopics").values()
    assert body(topic)["properties"]["topicType"] in {
        "Microsoft.MachineLearningServices.Workspaces",
        "Microsoft.Resources.Subscriptions",
    }
    resource = document["resources"][subscription]
    assert resource["config"]["condition"] == "subscribeEvents"
    properties = body(resource)["properties"]
    destination = properties["destination"]
    assert destination["endpointType"] == "AzureFunction"
    function = destination["properties"]["resourceId"].removeprefix("${functionAppId}/functions/")
    assert function in registered_functions()
    assert properties["filter"]["includedEventTypes"] == [event_type]
    assert properties["retryPolicy"] == {
        "maxDeliveryAttempts": "maxDeliveryAttempts",
        "eventTimeToLiveInMinutes": "eventTimeToLiveInMinutes",
    }
    dead_letter = properties["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"] == {"type": "UserAssigned", "userAssignedIdentity": "identityId"}
    assert dead_letter["deadLetterDestination"] == {
        "endpointType": "StorageBlob",
        "properties": {"resourceId": "deadLetterStorageId", "blobContainerName": "deadLetterContainerName"},
    }


def test_arm_events_are_filtered_to_azureml_asset_writes(parsed: dict[str, dict[str, Any]]) -> None:
    properties = body(parsed["modules/subscription-events.bicep"]["resources"]["assetWrites"])["properties"]
    (only,) = properties["filter"]["advancedFilters"]
    assert (only["operatorType"], only["key"]) == ("StringIn", "data.operationName")
    kinds = {"environments", "components", "data", "models"}
    assert set(only["values"]) == {
        f"Microsoft.MachineLearningServices/workspaces/{k}/versions/write" for k in kinds
    }


def test_dead_letters_go_to_the_container_main_creates(parsed: dict[str, dict[str, Any]]) -> None:
    main = parsed["main.bicep"]
    container = body(main["resources"]["deadLetterContainer"])["name"]
    assert container == "deadLetterContainerName"
    assert main["variables"]["deadLetterContainerName"]["value"] == "eventgrid-deadletter"
    for name in ("workspaceAccess", "armEvents"):
        params = body(main["modules"][name])["params"]
        assert params["deadLetterContainerName"] == "deadLetterContainerName"
        assert params["deadLetterStorageId"]["operator"]["operands"] == {
            "operand_1": "storage",
            "operand_2": "id",
        }


def test_the_poison_alert_watches_the_poison_queues(parsed: dict[str, dict[str, Any]]) -> None:
    resources = parsed["main.bicep"]["resources"]
    diagnostics = body(resources["queueDiagnostics"])
    assert diagnostics["scope"] == "queueService"
    assert {"category": "StorageWrite", "enabled": True} in diagnostics["properties"]["logs"]
    (criterion,) = body(resources["poisonAlert"])["properties"]["criteria"]["allOf"]
    assert '"PutMessage"' in criterion["query"] and '"-poison/"' in criterion["query"]


# --- regsync deploy params ---------------------------------------------------------------------------------


def test_deploy_params_renders_every_required_parameter_of_main(parsed: dict[str, dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli, ["deploy", "params", str(SEED)], env={"AzureWebJobsStorage": ""})
    assert result.exit_code == 0, result.output
    rendered = json.loads(result.stdout)["parameters"]
    declared = parsed["main.bicep"]["parameters"]
    required = {name for name, item in declared.items() if item["default"] is None}
    assert required <= set(rendered) <= set(declared)
    document = parse_policy(SEED.read_text())
    assert [item["name"] for item in rendered["workspaces"]["value"]] == [w.name for w in document.workspaces]
    assert rendered["subscriptions"]["value"] == [
        {"subscriptionId": "11111111-1111-1111-1111-111111111111", "resourceGroup": "rg-tenants"},
        {"subscriptionId": "22222222-2222-2222-2222-222222222222", "resourceGroup": "rg-woodgrove"},
    ]
    assert rendered["registry"]["value"] == {
        "name": "regsync-registry",
        "subscriptionId": "11111111-1111-1111-1111-111111111111",
        "resourceGroup": "rg-registry",
    }
    assert rendered["subscribeEvents"]["value"] is False


def test_deploy_params_writes_a_file_and_refuses_an_ambiguous_registry(tmp_path: Path) -> None:
    env = {"AzureWebJobsStorage": ""}
    target = tmp_path / "main.parameters.json"
    written = CliRunner().invoke(
        cli, ["deploy", "params", str(SEED), "--subscribe-events", "-o", str(target)], env=env
    )
    assert written.exit_code == 0, written.output
    assert json.loads(target.read_text())["parameters"]["subscribeEvents"]["value"] is True
    assert "5 workspaces in 2 subscriptions, registry `regsync-registry`" in written.stderr

    two = SEED.read_text().replace(
        "registries:\n",
        "registries:\n  - {name: second, subscription_id: 11111111-1111-1111-1111-111111111111,\n"
        "     resource_group: rg-registry, regions: [eastus]}\n",
    )
    policy = tmp_path / "two.yaml"
    policy.write_text(two)
    refused = CliRunner().invoke(cli, ["deploy", "params", str(policy)], env=env)
    assert refused.exit_code == 1
    assert "choose one with --registry" in refused.stderr
    chosen = render_parameters(parse_policy(two), name="regsync", registry="second")
    assert chosen["parameters"]["registry"]["value"]["name"] == "second"
