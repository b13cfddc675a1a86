"""Provenance: the tags RegSync stamps on what it creates, reading them back, the tags a push carries, and
telling RegSync's own workspace copies from assets a person registered. Pure."""

from __future__ import annotations

import pytest

from shared.domain import Asset
from shared.provenance import (
    TAG_CORRELATION,
    TAG_JOB,
    TAG_NAME,
    TAG_REGISTRY_ID,
    TAG_RULE,
    TAG_TENANT,
    TAG_VERSION,
    TAG_WORKSPACE,
    Origin,
    carried_tags,
    origin_of,
    provenance_tags,
    registry_copy,
)
from tests.unit.factories import WS1, WS3, model

SOURCE = model()


def test_provenance_tags_record_origin_rule_and_correlation() -> None:
    tags = provenance_tags(SOURCE, WS1, rule_id="share-all", correlation_id="corr-1")

    assert tags == {
        TAG_TENANT: "contoso",
        TAG_WORKSPACE: "workspace1",
        TAG_NAME: "credit-card-default",
        TAG_VERSION: "1",
        TAG_RULE: "share-all",
        TAG_CORRELATION: "corr-1",
    }


def test_provenance_tags_include_the_training_job_only_when_known() -> None:
    trained = Asset(ref=SOURCE.ref, job_name="brave_lamp_7x2")

    with_job = provenance_tags(trained, WS1, rule_id="r", correlation_id="c")
    without_job = provenance_tags(SOURCE, WS1, rule_id="r", correlation_id="c")

    assert with_job[TAG_JOB] == "brave_lamp_7x2"
    assert TAG_JOB not in without_job


def test_provenance_tags_without_a_rule_record_an_empty_rule() -> None:
    assert provenance_tags(SOURCE, WS1, rule_id=None, correlation_id="c")[TAG_RULE] == ""


def test_provenance_tags_are_all_under_the_regsync_prefix() -> None:
    tags = provenance_tags(Asset(ref=SOURCE.ref, job_name="j"), WS1, rule_id="r", correlation_id="c")

    assert all(key.startswith("regsync.") for key in tags)


def test_origin_of_reads_back_what_provenance_tags_wrote() -> None:
    source = model("bert-base-uncased_fine-tuned", "3")
    tags = provenance_tags(source, WS3, rule_id="r", correlation_id="c")

    assert origin_of({**tags, "area": "nlp"}) == Origin("workspace3", "bert-base-uncased_fine-tuned", "3")


@pytest.mark.parametrize("missing", [TAG_WORKSPACE, TAG_NAME, TAG_VERSION])
def test_origin_of_needs_workspace_name_and_version(missing: str) -> None:
    tags = provenance_tags(SOURCE, WS1, rule_id="r", correlation_id="c")

    assert origin_of({key: value for key, value in tags.items() if key != missing}) is None
    assert origin_of({**tags, missing: ""}) is None


def test_origin_of_untagged_asset_is_none() -> None:
    assert origin_of({"area": "diabetes"}) is None


def test_a_push_carries_only_regsync_tags_with_its_own_correlation() -> None:
    registry_tags = {
        **provenance_tags(SOURCE, WS1, rule_id="share-all", correlation_id="corr-share"),
        "area": "credit",
    }

    carried = carried_tags(registry_tags, "corr-push")

    assert "area" not in carried
    assert carried[TAG_CORRELATION] == "corr-push"
    assert carried[TAG_WORKSPACE] == "workspace1"
    assert carried[TAG_RULE] == "share-all"


def test_a_workspace_copy_of_a_registry_asset_is_never_shared_back() -> None:
    copy = model(
        **{TAG_REGISTRY_ID: "azureml://registries/shared-registry/models/credit-card-default/versions/1"}
    )

    reason = registry_copy(copy)

    assert reason is not None
    assert "copies are never shared back" in reason
    assert "azureml://registries/shared-registry/models/credit-card-default/versions/1" in reason


@pytest.mark.parametrize("tags", [{}, {TAG_REGISTRY_ID: ""}, {TAG_WORKSPACE: "workspace1"}])
def test_an_asset_a_person_registered_is_not_a_copy(tags: dict[str, str]) -> None:
    assert registry_copy(model(**tags)) is None
