"""Fidelity: replay the recorded Azure traffic (../shared/fixtures/azureml-recordings) against the
emulator and compare each JSON answer with Azure's recorded one by key shape, ignoring values (ids,
names, timestamps). User content (tags, properties, flavors, componentSpec) is not compared. Keys the
emulator adds on top of a recording are listed in ALLOWED_EXTRA and documented in docs/emulator.md.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator.conftest import REGISTRY, ws_arm_id

# Real, sanitized AzureML recordings (see recordings/SOURCE.md), kept with the tests so CI has them.
RECORDINGS = Path(__file__).resolve().parent / "recordings"
FILES = [
    "model/e2etests/test_model.pyTestModeltest_crud_file.json",
    "model/e2etests/test_model.pyTestModeltest_promote_model.json",
    "model/e2etests/test_model.pyTestModeltest_create_get_download_model_registry.json",
    "environment/e2etests/test_environment.pyTestEnvironmenttest_registry_environment_create_conda_and_get.json",
    "component/e2etests/test_component.pyTestComponenttest_component_create_get_list_from_registry.json",
]
ALLOWED_EXTRA = {"stage", "nextLink", "status", "name", "kind"}
FREE_FORM = {"tags", "flavors", "componentSpec", "registryFqdns"}
WORKSPACE_PATH = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/?]+"
)
REGISTRY_PATH = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/registries/[^/?]+/?"
)
ASSET_NAME = re.compile(r"/(?:models|environments|components|codes|tempdatarefs|datarefs)/([^/?]+)")
OUR_REGISTRY = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-registry"
    f"/providers/Microsoft.MachineLearningServices/registries/{REGISTRY}"
)


def shape_problems(recorded: Any, ours: Any, path: str = "$") -> list[str]:
    """Where `ours` lacks a key Azure sent, has an undocumented extra one, or nests differently."""
    if isinstance(recorded, dict):
        if not isinstance(ours, dict):
            return [f"{path}: Azure has an object, the emulator {type(ours).__name__}"] if recorded else []
        problems = [f"{path}.{k}: missing" for k in recorded if k not in ours]
        problems += [f"{path}.{k}: extra" for k in ours if k not in recorded and k not in ALLOWED_EXTRA]
        for key in recorded.keys() & ours.keys():
            if key in FREE_FORM or (key == "properties" and path.endswith(".properties")):
                continue
            problems += shape_problems(recorded[key], ours[key], f"{path}.{key}")
        return problems
    if isinstance(recorded, list) and recorded and isinstance(ours, list) and ours:
        return shape_problems(recorded[0], ours[0], f"{path}[0]")
    return []


def test_shape_comparison_catches_differences() -> None:
    recorded = {"id": "a", "properties": {"flavors": {"x": 1}, "modelUri": "u", "tags": {"t": 1}}}
    assert (
        shape_problems(recorded, {"id": "b", "properties": {"flavors": {}, "modelUri": None, "tags": {}}})
        == []
    )
    assert shape_problems(recorded, {"id": "b", "properties": {"flavors": {}}}) == [
        "$.properties.modelUri: missing",
        "$.properties.tags: missing",
    ]
    assert shape_problems({"a": {"b": 1}}, {"a": "flat", "c": 2}) == [
        "$.c: extra",
        "$.a: Azure has an object, the emulator str",
    ]


class Replayer:
    """Maps one recording onto the seed world (workspace1, regsync-registry) with fresh asset names."""

    def __init__(self, raw: httpx.Client, entries: list[dict[str, Any]]) -> None:
        self.raw, self.entries, self.last_operation = raw, entries, ""
        suffix = uuid.uuid4().hex[:6]
        names = {m for e in entries for m in ASSET_NAME.findall(e["RequestUri"]) if len(m) > 5}
        self.renames = {n: f"{n}{suffix}" for n in sorted(names, key=len, reverse=True)}
        self.ws_guid = raw.get(ws_arm_id("workspace1")).json()["properties"]["workspaceId"]

    def rewrite(self, text: str) -> str:
        for old, new in self.renames.items():
            text = text.replace(old, new)
        text = re.sub(
            r"azureml://locations/[^/]+/workspaces/[^/]+/",
            f"azureml://locations/eastus/workspaces/{self.ws_guid}/",
            text,
        )
        return re.sub(r"azureml://registries/[^/]+/", f"azureml://registries/{REGISTRY}/", text)

    def target(self, uri: str) -> str | None:
        url = httpx.URL(uri)
        if "/operations/" in url.path:
            return self.last_operation
        if url.path.startswith("/registrymanagement/"):
            return f"/registrymanagement/v1.0/registries/{REGISTRY}/discovery"
        if "login.microsoftonline.com" in str(url.host) or ".blob." in str(url.host):
            return None
        path = WORKSPACE_PATH.sub(ws_arm_id("workspace1"), url.path)
        path = REGISTRY_PATH.sub(OUR_REGISTRY + "/", path).replace("//", "/")
        query = f"?{url.query.decode()}" if url.query else ""
        return self.rewrite(path.rstrip("/") + query)

    def replay(self) -> list[str]:
        problems: list[str] = []
        for entry in self.entries:
            problems += self.replay_one(entry)
        return problems

    def replay_one(self, entry: dict[str, Any]) -> list[str]:
        target = self.target(entry["RequestUri"])
        if target is None:
            return []
        body = entry.get("RequestBody")
        content = self.rewrite(json.dumps(body)).encode() if isinstance(body, dict) else None
        reply = self.raw.request(
            entry["RequestMethod"], target, content=content, headers={"Content-Type": "application/json"}
        )
        self.last_operation = (
            reply.headers.get("Azure-AsyncOperation") or reply.headers.get("Location") or self.last_operation
        )
        statuses = f"{entry['StatusCode']} recorded, {reply.status_code} emulated"
        where = f"{entry['RequestMethod']} {target} ({statuses})"
        if (
            "/operations/" not in entry["RequestUri"]
            and reply.status_code // 100 != entry["StatusCode"] // 100
        ):
            return [f"{where}: status differs: {reply.text[:300]}"]
        recorded = entry.get("ResponseBody")
        if not isinstance(recorded, dict) or not reply.content:
            return []
        return [f"{where}: {p}" for p in shape_problems(recorded, reply.json())]


@pytest.mark.parametrize("name", FILES, ids=lambda f: Path(f).stem.split("test_")[-1])
def test_recorded_traffic_has_the_same_shape(raw: httpx.Client, name: str) -> None:
    entries = json.loads((RECORDINGS / name).read_text(encoding="utf-8"))["Entries"]
    assert Replayer(raw, entries).replay() == []
