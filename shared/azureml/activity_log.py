"""The ChangeFeed port on Azure's Activity Log: which workspaces had an asset version written or deleted.

Who calls it: the reconcile's timer (through shared.runtime). One subscription-wide query per call,
`GET {arm}/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values` with
api-version 2015-04-01 and `$filter=eventTimestamp ge ... and eventTimestamp le ... and resourceProvider
eq 'Microsoft.MachineLearningServices'` (REST reference "Activity Logs - List"), pages followed by
nextLink. Every record whose resourceId is a workspace asset version counts, started or finished: a
write that failed costs one needless reconcile, a missed one would cost a lost share.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.azureml.retry import BriefRetry
from shared.azureml.sdk import classified

API_VERSION = "2015-04-01"
EVENTS = "Microsoft.Insights/eventtypes/management/values"
PROVIDER = "Microsoft.MachineLearningServices"
_ASSET_WRITE = re.compile(
    rf"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/{PROVIDER}/workspaces/[^/]+)"
    r"/(models|environments|components|data)/[^/]+/versions/",
    re.I,
)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def workspace_of(resource_id: str) -> str | None:
    """The workspace ARM id (lower case) of an asset version's resourceId; None for anything else."""
    match = _ASSET_WRITE.match(resource_id or "")
    return match.group(1).lower() if match else None


class ActivityLogFeed:
    """Reads the Activity Log with the credential AzureML calls use (Reader on the subscription suffices)."""

    def __init__(self, arm_endpoint: str, credential: Callable[[], Any]) -> None:
        self._arm = arm_endpoint.rstrip("/")
        self._credential = credential  # called on first use: building one may import azure-identity

    def changed_workspaces(self, subscription: str, since: datetime, until: datetime) -> set[str]:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy
        from azure.core.rest import HttpRequest

        url = f"{self._arm}/subscriptions/{subscription}/providers/{EVENTS}"
        query = {
            "api-version": API_VERSION,
            "$filter": f"eventTimestamp ge '{_stamp(since)}' and eventTimestamp le '{_stamp(until)}' "
            f"and resourceProvider eq '{PROVIDER}'",
        }
        policies = [BearerTokenCredentialPolicy(self._credential(), f"{self._arm}/.default"), BriefRetry()]
        changed: set[str] = set()
        with classified(f"reading the Activity Log of subscription {subscription}"):
            client: Any = PipelineClient(base_url=self._arm, policies=policies)
            with client:
                request: HttpRequest | None = HttpRequest("GET", url, params=query)
                while request is not None:
                    response = client.send_request(request)
                    response.raise_for_status()
                    page = response.json()
                    changed |= {
                        ws for e in page.get("value") or [] if (ws := workspace_of(e.get("resourceId", "")))
                    }
                    link = page.get("nextLink")
                    request = HttpRequest("GET", link) if link else None
        return changed
