"""The Activity Log route: ARM writes to workspace asset versions, per subscription, by time range.

Sources:
- Activity Logs - List (learn.microsoft.com/rest/api/monitor/activitylogs/list): GET
  /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values, api-version 2015-04-01;
  `$filter` is required and "requires at least the start date/time"; the patterns include a time range
  alone and a time range `and resourceProvider eq '...'`; the answer is EventDataCollection
  {value, nextLink}.
- Azure Activity Log event schema (learn.microsoft.com/azure/azure-monitor/platform/activity-log-schema),
  Administrative category: a write is logged as a start record and a success (or failure) record,
  with eventTimestamp, operationName {value, localizedValue}, resourceId, status, subStatus,
  submissionTimestamp, correlationId shared by both, eventDataId unique per record.
- Without a filter Azure answers 400 BadRequest "$filter searching parameters invalid"
  (github.com/MicrosoftDocs/feedback/issues/319, github.com/Azure/azure-rest-api-specs/issues/2467); a
  start older than the 90 days the log keeps is a 400 too (github.com/Azure/azure-cli/issues/4885).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from tests.emulator.conftest import SUB1, SUB2, ws_arm_id

ROUTE = "/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values"
API = {"api-version": "2015-04-01"}


def window(start: dt.datetime, end: dt.datetime | None = None, provider: str | None = None) -> str:
    text = f"eventTimestamp ge '{start.isoformat()}'"
    if end is not None:
        text += f" and eventTimestamp le '{end.isoformat()}'"
    return text + (f" and resourceProvider eq '{provider}'" if provider else "")


def events(raw: httpx.Client, sub: str, filter_: str) -> list[dict[str, Any]]:
    """Every page, following nextLink."""
    page = raw.get(ROUTE.format(sub=sub), params=API | {"$filter": filter_}).json()
    found = list(page["value"])
    while page.get("nextLink"):
        link = httpx.URL(page["nextLink"])  # its own query, api-version too, wins over the client's
        page = raw.get(link.copy_with(query=None), params=dict(link.params)).json()
        found += page["value"]
    return found


def test_a_model_version_write_is_logged_as_started_and_succeeded_with_one_correlation(
    ml: Callable[[str], Any], raw: httpx.Client, unique: str
) -> None:
    from azure.ai.ml.entities import Model

    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    ml("workspace1").models.create_or_update(
        Model(name=unique, version="1", path="azureml://datastores/workspaceblobstore/paths/m/")
    )

    resource_id = f"{ws_arm_id('workspace1')}/models/{unique}/versions/1"
    found = [
        e
        for e in events(raw, SUB1, window(before, provider="Microsoft.MachineLearningServices"))
        if e["resourceId"] == resource_id
    ]

    assert [e["status"]["value"] for e in found] == ["Started", "Succeeded"]
    assert {e["correlationId"] for e in found} == {found[0]["correlationId"]}
    assert len({e["eventDataId"] for e in found}) == 2
    operation = "Microsoft.MachineLearningServices/workspaces/models/versions/write"
    assert all(e["operationName"]["value"] == operation for e in found)
    assert all(e["eventTimestamp"] >= before.isoformat().replace("+00:00", "Z")[:19] for e in found)
    assert all({"submissionTimestamp", "subStatus", "category"} <= e.keys() for e in found)


def test_a_delete_is_logged_and_other_subscriptions_see_nothing(
    ml: Callable[[str], Any], raw: httpx.Client, unique: str
) -> None:
    from azure.ai.ml.entities import Model

    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    client = ml("workspace2")
    client.models.create_or_update(
        Model(name=unique, version="1", path="azureml://datastores/workspaceblobstore/paths/m/")
    )
    raw.delete(f"{ws_arm_id('workspace2')}/models/{unique}/versions/1")

    mine = [e for e in events(raw, SUB1, window(before)) if unique in e["resourceId"]]
    elsewhere = [e for e in events(raw, SUB2, window(before)) if unique in e["resourceId"]]

    assert {e["operationName"]["value"].rsplit("/", 1)[-1] for e in mine} == {"write", "delete"}
    assert elsewhere == []


def test_an_archive_is_logged_as_a_write_of_the_version(
    ml: Callable[[str], Any], raw: httpx.Client, unique: str
) -> None:
    from azure.ai.ml.entities import Model

    client = ml("workspace1")
    client.models.create_or_update(
        Model(name=unique, version="1", path="azureml://datastores/workspaceblobstore/paths/m/")
    )
    before = dt.datetime.now(dt.UTC)  # after the create's records: they were logged before it answered
    client.models.archive(name=unique, version="1")  # a PUT of the version with isArchived

    archived = [e for e in events(raw, SUB1, window(before)) if unique in e["resourceId"]]

    assert {e["operationName"]["value"] for e in archived} == {
        "Microsoft.MachineLearningServices/workspaces/models/versions/write"
    }
    assert [e["status"]["value"] for e in archived] == ["Started", "Succeeded"]


def test_the_time_range_and_the_resource_provider_select_the_records(
    ml: Callable[[str], Any], raw: httpx.Client, unique: str
) -> None:
    from azure.ai.ml.entities import Model

    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    ml("workspace3").models.create_or_update(
        Model(name=unique, version="1", path="azureml://datastores/workspaceblobstore/paths/m/")
    )

    earlier = [
        e
        for e in events(raw, SUB1, window(before - dt.timedelta(hours=1), before))
        if unique in e["resourceId"]
    ]
    other_provider = events(raw, SUB1, window(before, provider="Microsoft.Compute"))
    now_on = [e for e in events(raw, SUB1, window(before)) if unique in e["resourceId"]]

    assert earlier == []
    assert other_provider == []
    assert len(now_on) == 2


def test_pages_follow_next_link(raw: httpx.Client, admin: Any, unique: str) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    admin.seed_models("workspace5", f"{unique}-", 150)  # 300 records: more than one page

    first = raw.get(ROUTE.format(sub=SUB1), params=API | {"$filter": window(before)}).json()
    every = [e for e in events(raw, SUB1, window(before)) if unique in e["resourceId"]]

    assert "nextLink" in first
    assert len(every) == 300
    assert len({e["eventDataId"] for e in every}) == 300


def test_a_missing_or_unbounded_filter_is_refused_like_azure(raw: httpx.Client) -> None:
    url = ROUTE.format(sub=SUB1)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=91)

    missing = raw.get(url, params=API)
    no_start = raw.get(
        url, params=API | {"$filter": "resourceProvider eq 'Microsoft.MachineLearningServices'"}
    )
    too_old = raw.get(url, params=API | {"$filter": window(old)})
    wrong_version = raw.get(url, params={"api-version": "2024-04-01", "$filter": window(old)})

    for answer in (missing, no_start, too_old, wrong_version):
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] in {"BadRequest", "InvalidApiVersionParameter"}
    assert missing.json()["error"]["message"] == "$filter searching parameters invalid"
