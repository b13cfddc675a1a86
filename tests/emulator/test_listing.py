"""Listing order, as Azure documents it, and the benchmarks' bulk seeding (`/_admin/seedModels`).

Sources: Model Versions - List (learn.microsoft.com/rest/api/azureml/model-versions/list) takes
`$orderBy` and `$top` (ordering of list; maximum number of records); Model Containers - List
(learn.microsoft.com/rest/api/azureml/model-containers/list) takes only `$skip` (a continuation
token), `count` and `listViewType`: no order is documented, so a container listing cannot be read
"newest first" and the emulator does not pretend to (it keeps name order, whatever is asked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from devstack.emulator.launch import EmulatorAdmin
from tests.emulator.conftest import ws_arm_id


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["value"]]


def every_name(raw: httpx.Client, url: str, params: dict[str, str]) -> list[str]:
    """Every page of a listing, following `nextLink` (other tests add containers to the same world)."""
    page = raw.get(url, params=params).json()
    found = names(page)
    while page.get("nextLink"):
        page = raw.get(page["nextLink"]).json()
        found += names(page)
    return found


def test_seeded_models_are_registered_as_a_put_would_register_them(
    admin: EmulatorAdmin, ml: Callable[[str], Any], unique: str
) -> None:
    admin.seed_models("workspace2", f"{unique}-", 25)

    client = ml("workspace2")
    listed = {model.name for model in client.models.list() if model.name.startswith(unique)}
    model = client.models.get(f"{unique}-7", version="1")

    assert listed == {f"{unique}-{index}" for index in range(25)}
    assert model.path.startswith("azureml://datastores/workspaceblobstore/paths/models/")


def test_a_versions_list_honours_order_by_and_top(
    ml: Callable[[str], Any], raw: httpx.Client, unique: str
) -> None:
    from azure.ai.ml.entities import Model

    client = ml("workspace1")
    for version in ("1", "2", "3"):
        client.models.create_or_update(
            Model(
                name=unique, version=version, path=f"azureml://datastores/workspaceblobstore/paths/{unique}/"
            )
        )
    url = ws_arm_id("workspace1") + f"/models/{unique}/versions"

    newest = raw.get(url, params={"$orderBy": "createdtime desc", "$top": "1"}).json()
    oldest = raw.get(url, params={"$orderBy": "createdtime asc"}).json()

    assert names(newest) == ["3"]
    assert names(oldest) == ["1", "2", "3"]


def test_a_containers_list_has_no_order_to_ask_for(
    admin: EmulatorAdmin, raw: httpx.Client, unique: str
) -> None:
    admin.seed_models("workspace3", f"{unique}-b", 1)
    admin.seed_models("workspace3", f"{unique}-a", 1)  # created last, first by name
    url = ws_arm_id("workspace3") + "/models"

    plain = [name for name in every_name(raw, url, {}) if name.startswith(unique)]
    asked = [
        name for name in every_name(raw, url, {"$orderBy": "createdtime desc"}) if name.startswith(unique)
    ]

    assert plain == asked == [f"{unique}-a0", f"{unique}-b0"]
