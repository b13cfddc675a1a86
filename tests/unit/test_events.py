"""Event parsing: Event Grid schema and CloudEvents 1.0, ModelRegistered and ARM ResourceWriteSuccess.

The subject is the truth; events RegSync does not act on are acknowledged with a reason; anything
malformed or hostile is refused with an InvalidInputError that says what is wrong. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import (
    ASSET_NAME_PATTERN,
    ASSET_VERSION_PATTERN,
    AssetKind,
    AssetRef,
    parse_workspace_arm_id,
)
from shared.errors import InvalidInputError, PermanentError
from shared.events import (
    MAX_EVENT_ID,
    MAX_RESOURCE_ID,
    MODEL_REGISTERED,
    RESOURCE_WRITE_SUCCESS,
    AssetEvent,
    IgnoredEvent,
    parse_event,
)

SUBSCRIPTION = "0000aaaa-1111-2222-3333-444455556666"
WORKSPACE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml"
    "/providers/Microsoft.MachineLearningServices/workspaces/workspace1"
)
EVENT_ID = "831e1650-001e-001b-66ab-eeb76e069631"


def docs_model_registered(**overrides: Any) -> dict[str, Any]:
    """The ModelRegistered sample of the Event Grid docs (PascalCase data, int version)."""
    event: dict[str, Any] = {
        "topic": WORKSPACE_ID,
        "subject": "models/sklearn_regression_model:20",
        "eventType": MODEL_REGISTERED,
        "eventTime": "2017-06-26T18:41:00.9584103Z",
        "id": EVENT_ID,
        "data": {
            "ModelName": "sklearn_regression_model",
            "ModelVersion": 20,
            "ModelTags": {"area": "diabetes"},
            "ModelProperties": {"type": "test"},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }
    event.update(overrides)
    return event


def cloud_model_registered(**overrides: Any) -> dict[str, Any]:
    """The same event as CloudEvents 1.0 delivers it, with the SDK typings' camelCase data."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "ce-7f3a",
        "source": WORKSPACE_ID,
        "type": MODEL_REGISTERED,
        "subject": "models/credit-card-default:3",
        "time": "2024-05-01T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {"modelName": "credit-card-default", "modelVersion": "3", "modelTags": {"stage": "dev"}},
    }
    event.update(overrides)
    return event


def resource_write(resource_uri: str, operation: str, **overrides: Any) -> dict[str, Any]:
    """An ARM subscription system topic's ResourceWriteSuccess, subject = resource URI."""
    event: dict[str, Any] = {
        "topic": f"/subscriptions/{SUBSCRIPTION}",
        "subject": resource_uri,
        "eventType": RESOURCE_WRITE_SUCCESS,
        "eventTime": "2024-05-01T10:00:00Z",
        "id": "arm-5e1c",
        "data": {
            "resourceUri": resource_uri,
            "operationName": operation,
            "status": "Succeeded",
            "subscriptionId": SUBSCRIPTION,
            "resourceGroup": "rg-ml",
            "resourceProvider": "Microsoft.MachineLearningServices",
            "tenantId": "72f988bf-0000-0000-0000-000000000000",
            "correlationId": "c0ffee00-0000-0000-0000-000000000000",
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }
    event.update(overrides)
    return event


def asset_uri(plural: str, name: str, version: str, workspace: str = WORKSPACE_ID) -> str:
    return f"{workspace}/{plural}/{name}/versions/{version}"


def refused(event: Any) -> str:
    with pytest.raises(InvalidInputError) as caught:
        parse_event(event)
    return str(caught.value)


# --- ModelRegistered ----------------------------------------------------------------------------------


def test_docs_sample_in_event_grid_schema_becomes_a_model_asset_event() -> None:
    parsed = parse_event(docs_model_registered())

    assert parsed == AssetEvent(
        event_id=EVENT_ID,
        event_type=MODEL_REGISTERED,
        workspace_arm_id=WORKSPACE_ID,
        ref=AssetRef(kind=AssetKind.MODEL, name="sklearn_regression_model", version="20"),
        tags={"area": "diabetes"},
    )


def test_cloudevents_model_registered_reads_source_type_and_camel_case_data() -> None:
    parsed = parse_event(cloud_model_registered())

    assert isinstance(parsed, AssetEvent)
    assert parsed.event_id == "ce-7f3a"
    assert parsed.event_type == MODEL_REGISTERED
    assert parsed.workspace_arm_id == WORKSPACE_ID
    assert parsed.ref == AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version="3")
    assert parsed.tags == {"stage": "dev"}


def test_subject_wins_when_the_data_names_another_model_and_version() -> None:
    event = docs_model_registered(subject="models/credit-card-default:7")
    event["data"] = {"modelName": "something-else", "modelVersion": 99, "modelTags": {}}

    parsed = parse_event(event)

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref == AssetRef(kind=AssetKind.MODEL, name="credit-card-default", version="7")


def test_model_tags_are_read_case_insensitively_and_carried_as_text() -> None:
    event = docs_model_registered()
    event["data"] = {"MODELTAGS": {"epochs": 3, "approved": True, "team": "risk"}}

    parsed = parse_event(event)

    assert isinstance(parsed, AssetEvent)
    assert parsed.tags == {"epochs": "3", "approved": "True", "team": "risk"}


@pytest.mark.parametrize("data", [{}, {"modelTags": None}, None], ids=["no-tags", "null-tags", "no-data"])
def test_model_registered_without_tags_has_empty_tags(data: Any) -> None:
    parsed = parse_event(docs_model_registered(data=data))

    assert isinstance(parsed, AssetEvent)
    assert parsed.tags == {}
    assert parsed.ref.name == "sklearn_regression_model"


def test_model_tags_that_are_not_an_object_are_refused() -> None:
    event = docs_model_registered()
    event["data"] = {"modelTags": ["area", "diabetes"]}

    assert "model tags must be an object" in refused(event)


def test_topic_with_upper_case_subscription_and_lowercase_segments_yields_the_canonical_arm_id() -> None:
    topic = (
        f"/subscriptions/{SUBSCRIPTION.upper()}/resourcegroups/rg-ml"
        "/providers/microsoft.machinelearningservices/workspaces/workspace1"
    )

    parsed = parse_event(docs_model_registered(topic=topic))

    assert isinstance(parsed, AssetEvent)
    assert parsed.workspace_arm_id == WORKSPACE_ID


def test_version_with_dots_in_the_subject_is_kept_as_text() -> None:
    parsed = parse_event(cloud_model_registered(subject="models/bert-base-uncased_fine-tuned:1.2.0"))

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref.name == "bert-base-uncased_fine-tuned"
    assert parsed.ref.version == "1.2.0"


def test_longest_valid_name_is_accepted() -> None:
    name = "m" * 255

    parsed = parse_event(docs_model_registered(subject=f"models/{name}:1"))

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref.name == name


# --- ResourceWriteSuccess -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plural", "kind"),
    [
        ("models", AssetKind.MODEL),
        ("environments", AssetKind.ENVIRONMENT),
        ("components", AssetKind.COMPONENT),
        ("data", AssetKind.DATA),
    ],
)
def test_version_write_of_each_asset_kind_becomes_an_asset_event(plural: str, kind: AssetKind) -> None:
    uri = asset_uri(plural, "sklearn-env", "4")
    operation = f"Microsoft.MachineLearningServices/workspaces/{plural}/versions/write"

    parsed = parse_event(resource_write(uri, operation))

    assert parsed == AssetEvent(
        event_id="arm-5e1c",
        event_type=RESOURCE_WRITE_SUCCESS,
        workspace_arm_id=WORKSPACE_ID,
        ref=AssetRef(kind=kind, name="sklearn-env", version="4"),
        tags={},
    )


def test_environment_version_write_in_cloudevents_schema_is_understood() -> None:
    uri = asset_uri("environments", "sklearn-env", "4")
    event = resource_write(uri, "Microsoft.MachineLearningServices/workspaces/environments/versions/write")
    event = {
        "specversion": "1.0",
        "id": event["id"],
        "source": event["topic"],
        "type": event["eventType"],
        "subject": event["subject"],
        "data": event["data"],
    }

    parsed = parse_event(event)

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref == AssetRef(kind=AssetKind.ENVIRONMENT, name="sklearn-env", version="4")
    assert parsed.workspace_arm_id == WORKSPACE_ID


def test_resource_write_without_resource_uri_in_data_falls_back_to_the_subject() -> None:
    uri = asset_uri("components", "train-step", "2")
    event = resource_write(uri, "Microsoft.MachineLearningServices/workspaces/components/versions/write")
    del event["data"]["resourceUri"]

    parsed = parse_event(event)

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref == AssetRef(kind=AssetKind.COMPONENT, name="train-step", version="2")


def test_resource_write_without_a_subject_uses_data_resource_uri() -> None:
    uri = asset_uri("data", "credit-defaults", "2024.05")
    event = resource_write(uri, "Microsoft.MachineLearningServices/workspaces/data/versions/write")
    del event["subject"]

    parsed = parse_event(event)

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref == AssetRef(kind=AssetKind.DATA, name="credit-defaults", version="2024.05")


def test_resource_write_with_lowercase_arm_segments_still_names_the_workspace() -> None:
    uri = asset_uri("Environments", "sklearn-env", "4", workspace=WORKSPACE_ID.lower())

    parsed = parse_event(
        resource_write(uri, "microsoft.machinelearningservices/workspaces/environments/write")
    )

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref.kind is AssetKind.ENVIRONMENT
    assert parsed.workspace_arm_id == WORKSPACE_ID


def test_resource_write_subject_wins_when_data_resource_uri_disagrees() -> None:
    event = resource_write(
        asset_uri("environments", "sklearn-env", "4"),
        "Microsoft.MachineLearningServices/workspaces/environments/versions/write",
    )
    event["data"]["resourceUri"] = asset_uri("environments", "other-env", "9")

    parsed = parse_event(event)

    assert isinstance(parsed, AssetEvent)
    assert parsed.ref == AssetRef(kind=AssetKind.ENVIRONMENT, name="sklearn-env", version="4")


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param(f"{WORKSPACE_ID}/environments/sklearn-env", id="environment-container"),
        pytest.param(f"{WORKSPACE_ID}/models/credit-card-default", id="model-container"),
        pytest.param(f"{WORKSPACE_ID}/onlineEndpoints/scoring", id="online-endpoint"),
        pytest.param(f"{WORKSPACE_ID}/onlineEndpoints/scoring/deployments/blue", id="online-deployment"),
        pytest.param(f"{WORKSPACE_ID}/batchEndpoints/nightly", id="batch-endpoint"),
        pytest.param(f"{WORKSPACE_ID}/computes/cpu-cluster", id="compute"),
        pytest.param(WORKSPACE_ID, id="the-workspace-itself"),
        pytest.param(
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/Microsoft.Storage"
            "/storageAccounts/mlstore",
            id="other-provider",
        ),
        pytest.param(
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/Microsoft.Other"
            "/workspaces/w1/models/m/versions/1",
            id="other-provider-with-lookalike-path",
        ),
        pytest.param(
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/"
            "Microsoft.MachineLearningServices/registries/shared-reg/models/m/versions/1",
            id="registry-asset",
        ),
        pytest.param(f"{WORKSPACE_ID}/models/m/versions/1/extra", id="below-a-version"),
    ],
)
def test_writes_that_are_not_workspace_asset_versions_are_ignored_with_a_reason(uri: str) -> None:
    parsed = parse_event(resource_write(uri, "Microsoft.Whatever/write"))

    assert isinstance(parsed, IgnoredEvent)
    assert parsed.event_id == "arm-5e1c"
    assert parsed.event_type == RESOURCE_WRITE_SUCCESS
    assert parsed.subject == uri
    assert parsed.reason == "the written resource is not an asset version in a workspace"


def test_hostile_name_in_a_resource_write_uri_is_refused() -> None:
    uri = asset_uri("models", "x' or 1 eq 1", "1")

    message = refused(
        resource_write(uri, "Microsoft.MachineLearningServices/workspaces/models/versions/write")
    )

    assert "asset name is not valid" in message


def test_resource_uri_that_is_not_text_is_refused_when_there_is_no_subject() -> None:
    event = resource_write(asset_uri("models", "m", "1"), "x")
    del event["subject"]
    event["data"]["resourceUri"] = {"uri": "models/m"}

    assert "data.resourceUri must be text" in refused(event)


# --- events RegSync does not handle -----------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "Microsoft.MachineLearningServices.RunCompleted",
        "Microsoft.MachineLearningServices.ModelDeployed",
        "Microsoft.MachineLearningServices.RunStatusChanged",
        "Microsoft.MachineLearningServices.DatasetDriftDetected",
        "Microsoft.Resources.ResourceWriteFailure",
        "Microsoft.Resources.ResourceDeleteSuccess",
    ],
)
def test_unknown_event_types_are_ignored_naming_the_type(event_type: str) -> None:
    parsed = parse_event(docs_model_registered(eventType=event_type, subject="runs/run-42"))

    assert isinstance(parsed, IgnoredEvent)
    assert parsed.event_type == event_type
    assert parsed.subject == "runs/run-42"
    assert parsed.reason == f"event type `{event_type}` is not one RegSync handles"


def test_unknown_cloudevents_type_is_ignored() -> None:
    parsed = parse_event(cloud_model_registered(type="Microsoft.MachineLearningServices.RunCompleted"))

    assert isinstance(parsed, IgnoredEvent)
    assert parsed.event_id == "ce-7f3a"
    assert "RunCompleted" in parsed.reason


# --- malformed input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [[], ["event"], "event", None, 42, b"{}"], ids=repr)
def test_an_event_that_is_not_an_object_is_refused(raw: Any) -> None:
    assert refused(raw) == "an event must be a JSON object"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", None),
        ("id", ""),
        ("id", 7),
        ("eventType", None),
        ("topic", None),
        ("topic", ["/subscriptions"]),
    ],
)
def test_missing_or_non_text_envelope_fields_are_refused_by_name(field: str, value: Any) -> None:
    event = docs_model_registered(**{field: value})
    if value is None:
        del event[field]

    assert refused(event) == f"event field `{field}` is missing or not text"


@pytest.mark.parametrize("field", ["id", "type", "source"])
def test_cloudevents_without_a_required_attribute_is_refused_by_name(field: str) -> None:
    event = cloud_model_registered()
    del event[field]

    assert refused(event) == f"event field `{field}` is missing or not text"


def test_cloudevents_uses_type_not_event_type() -> None:
    event = cloud_model_registered()
    event["eventType"] = event.pop("type")

    assert "`type`" in refused(event)


@pytest.mark.parametrize("subject", [42, ["models/m:1"], {"name": "m"}, False], ids=repr)
def test_subject_that_is_not_text_is_refused(subject: Any) -> None:
    message = refused(docs_model_registered(subject=subject))

    assert message == "event field `subject` is missing or not text"


@pytest.mark.parametrize(
    ("data", "kind"), [(["ModelName"], "a list"), ("ModelName=m", "text"), (12, "a number or other value")]
)
def test_data_that_is_not_an_object_is_refused(data: Any, kind: str) -> None:
    message = refused(docs_model_registered(data=data))

    assert message == f"event `{EVENT_ID}`: data must be an object, not {kind}"


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "models/credit-card-default",
        "models/credit-card-default:",
        "models/:1",
        "models/a:1:2",
        "models/a/b:1",
        "environments/sklearn-env:1",
        "Models/credit-card-default:1",
        "/models/credit-card-default:1",
    ],
)
def test_model_registered_subject_not_of_the_form_models_name_version_is_refused(subject: str) -> None:
    event = docs_model_registered(subject=subject)
    if not subject:
        del event["subject"]

    message = refused(event)

    assert "subject `models/NAME:VERSION`" in message
    assert f"got topic `{WORKSPACE_ID}` and subject `{subject}`" in message


@pytest.mark.parametrize(
    "topic",
    [
        f"/subscriptions/{SUBSCRIPTION}",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/a",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/"
        "Microsoft.MachineLearningServices/registries/shared-reg",
        "workspace1",
        f"https://example.com{WORKSPACE_ID}",
    ],
)
def test_model_registered_from_a_topic_that_is_not_a_workspace_is_refused(topic: str) -> None:
    message = refused(docs_model_registered(topic=topic))

    assert "needs a workspace topic" in message
    assert f"got topic `{topic}`" in message


def test_error_message_truncates_a_long_subject() -> None:
    message = refused(docs_model_registered(subject="x" * 1000))

    assert len(message) < 600
    assert "x" * 200 in message


@pytest.mark.parametrize("event_type", [MODEL_REGISTERED, RESOURCE_WRITE_SUCCESS, "X.Unknown"])
def test_a_huge_subject_is_refused_before_it_can_reach_an_audit_record(event_type: str) -> None:
    # A 70,000-character subject of an unknown type once failed the audit write (PropertyValueTooLarge).
    message = refused(docs_model_registered(subject="x" * 70_000, eventType=event_type))

    assert message == f"event field `subject` is longer than {MAX_RESOURCE_ID} characters"


@pytest.mark.parametrize("field", ["subject", "eventType", "topic", "id"])
def test_control_characters_in_kept_fields_are_refused(field: str) -> None:
    event = docs_model_registered(**{"eventType": "X.Unknown", field: "a\x1b[2Jb"})

    assert refused(event) == f"event field `{field}` contains the control character U+001B"


def test_resource_uri_from_data_is_bounded_too() -> None:
    uri = WORKSPACE_ID + "/models/m/versions/" + "1" * 2000
    event = resource_write(uri, "write", subject="")
    event["data"]["resourceUri"] = uri

    assert refused(event).endswith(f"data.resourceUri is longer than {MAX_RESOURCE_ID} characters")


@pytest.mark.parametrize(
    "tags", [{"a": {"b": 1}}, {"a": [1]}, {"a": None}, {str(n): "v" for n in range(300)}, {"a": "v" * 5000}]
)
def test_model_tags_must_be_flat_and_bounded(tags: Any) -> None:
    data = {"ModelName": "m", "ModelVersion": 1, "ModelTags": tags}

    assert "model tag" in refused(docs_model_registered(subject="models/m:1", data=data))


def test_deeply_nested_tags_are_refused_not_a_recursion_error() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = {"k": deep}
    data = {"ModelName": "m", "ModelVersion": 1, "ModelTags": {"a": deep}}

    assert refused(docs_model_registered(subject="models/m:1", data=data)).endswith(
        "model tags must map text to text"
    )


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        pytest.param("models/x' or 1 eq 1:1", "name", id="odata-injection"),
        pytest.param("models/o'brien:1", "name", id="single-quote"),
        pytest.param('models/a"b:1', "name", id="double-quote"),
        pytest.param("models/" + "a" * 300 + ":1", "name", id="300-chars"),
        pytest.param("models/modèle-crédit:1", "name", id="unicode"),
        pytest.param("models/模型:1", "name", id="cjk"),
        pytest.param("models/-leading-dash:1", "name", id="leading-dash"),
        pytest.param("models/m:1' or 1 eq 1", "version", id="hostile-version"),
        pytest.param("models/m:" + "9" * 51, "version", id="51-char-version"),
    ],
)
def test_hostile_names_in_the_subject_are_refused_naming_the_field(subject: str, field: str) -> None:
    message = refused(docs_model_registered(subject=subject))

    assert message.startswith(f"event `{EVENT_ID}`: asset {field} is not valid")


def test_event_id_of_the_maximum_length_is_accepted() -> None:
    parsed = parse_event(docs_model_registered(id="e" * MAX_EVENT_ID))

    assert isinstance(parsed, AssetEvent)
    assert parsed.event_id == "e" * MAX_EVENT_ID


@pytest.mark.parametrize("length", [MAX_EVENT_ID + 1, 100_000])
def test_oversized_event_ids_are_refused(length: int) -> None:
    message = refused(docs_model_registered(id="e" * length))

    assert message == f"event field `id` is longer than {MAX_EVENT_ID} characters"


@pytest.mark.parametrize("subject", ["models/bad\x00name:1", "models/name\n:1", "models/m:1\n"])
def test_control_characters_in_the_subject_are_refused(subject: str) -> None:
    assert refused(docs_model_registered(subject=subject)).startswith(
        "event field `subject` contains the control character"
    )


def test_oversized_id_is_refused_even_for_event_types_regsync_ignores() -> None:
    event = docs_model_registered(id="e" * (MAX_EVENT_ID + 1), eventType="X.RunCompleted")

    assert "longer than" in refused(event)


def test_invalid_input_is_a_permanent_error_so_event_grid_does_not_retry() -> None:
    with pytest.raises(PermanentError):
        parse_event({"id": "x"})


# --- properties ----------------------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
NAMES = st.sampled_from(["m", "credit-card-default", "a.b_c-1", "7"]) | st.from_regex(
    ASSET_NAME_PATTERN, fullmatch=True
)
HOSTILE = st.sampled_from(["x' or 1 eq 1", "é", "a" * 300, "", "n\n", "a:b", "a/b", "-x"]) | st.text(
    max_size=20
)
PLURALS = st.sampled_from(["models", "environments", "components", "data", "onlineEndpoints", "Models"])
KINDS_OF_EVENT = st.sampled_from([MODEL_REGISTERED, RESOURCE_WRITE_SUCCESS, "X.RunCompleted"])


@st.composite
def shaped_events(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event in either schema, then up to three corruptions: hostile names, wrong types,
    missing fields. Valid events come often enough that the AssetEvent branches are exercised too."""
    cloud = draw(st.booleans())
    event_type = draw(KINDS_OF_EVENT)
    name, version = draw(NAMES), draw(NAMES.filter(lambda text: len(text) <= 50))
    if event_type == MODEL_REGISTERED:
        subject = f"models/{name}:{version}"
        data: Any = {"modelName": draw(NAMES), "modelVersion": draw(st.integers()), "modelTags": {"k": "v"}}
    else:
        subject = asset_uri(draw(PLURALS), name, version)
        data = {"resourceUri": subject, "operationName": "x/write"}
    event = {
        "id": "evt-1",
        "type" if cloud else "eventType": event_type,
        "source" if cloud else "topic": WORKSPACE_ID,
        "subject": subject,
        "data": data,
    }
    if cloud:
        event["specversion"] = "1.0"
    corruptions = st.tuples(st.sampled_from(sorted(event)), st.none() | HOSTILE | JSON)
    for key, value in draw(st.lists(corruptions, max_size=3)):
        if value is None:
            event.pop(key, None)
        elif key == "subject" and isinstance(value, str):
            event[key] = draw(
                st.sampled_from([f"models/{value}:1", f"models/m:{value}", asset_uri("models", value, "1")])
            )
        elif key == "data" and isinstance(data, dict):
            event[key] = {**data, draw(st.sampled_from(["modelTags", "resourceUri", "ModelTags"])): value}
        else:
            event[key] = value
    return event


def check_parse(raw: Any) -> None:
    try:
        parsed = parse_event(raw)
    except InvalidInputError as error:
        assert str(error), "an InvalidInputError must say what is wrong"
        return
    assert isinstance(parsed, (AssetEvent, IgnoredEvent))
    if isinstance(parsed, AssetEvent):
        assert re.fullmatch(ASSET_NAME_PATTERN, parsed.ref.name)
        assert re.fullmatch(ASSET_VERSION_PATTERN, parsed.ref.version)
        assert parse_workspace_arm_id(parsed.workspace_arm_id) is not None
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.tags.items())
        assert len(parsed.event_id) <= MAX_EVENT_ID


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), JSON, max_size=8) | JSON)
def test_arbitrary_json_only_ever_raises_invalid_input(raw: Any) -> None:
    check_parse(raw)


@settings(max_examples=200, deadline=None)
@given(shaped_events())
def test_event_shaped_json_yields_valid_asset_events_or_invalid_input(raw: dict[str, Any]) -> None:
    check_parse(raw)
