"""docs/openapi.yaml is a valid OpenAPI document and says what shared/api/ does, so neither drifts.

Routes: every entry of `ROUTES` is documented with its method and operationId (the Functions name), and
nothing is documented that `ROUTES` lacks. Requests: each JSON body and each query is compared, field by
field (type, pattern, enum, bounds, default, required, extra fields refused), with the pydantic model
the handler validates it with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from pydantic import BaseModel

from shared import ui
from shared.api import ROUTES, ApproveRequest, AuditQuery, PullRequest, StatusQuery, SyncRequest
from shared.api.fleet import DriftQuery, RecallRequest
from shared.api.verify import VerifyQuery
from shared.domain import AssetRef
from shared.ui.detail import CellQuery
from shared.ui.matrix import MatrixQuery

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Which model each handler validates its JSON body or its query with (shared/api/call.py).
BODIES: dict[str, type[BaseModel]] = {
    "api_sync": SyncRequest,
    "api_pull": PullRequest,
    "api_approve": ApproveRequest,
    "api_recall": RecallRequest,
}
QUERIES: dict[str, type[BaseModel]] = {
    "api_status": StatusQuery,
    "api_audit": AuditQuery,
    "api_drift": DriftQuery,
    "api_verify": VerifyQuery,
    "ui_matrix": MatrixQuery,
    "ui_cell": CellQuery,
}
# What is compared of a schema: what decides whether a request is accepted.
CHECKED = ("type", "pattern", "enum", "const", "minimum", "maximum", "minLength", "maxLength")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path below /api, operation)."""
    found = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                found[operation["operationId"]] = (method.upper(), path.removeprefix("/"), operation)
    return found


def normalised(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """`schema` with references resolved, `X | None` as X, and only the keys that decide acceptance."""
    while "$ref" in schema:
        schema = resolve(schema["$ref"], root)
    if "anyOf" in schema:
        members = [member for member in schema["anyOf"] if member.get("type") != "null"]
        assert len(members) == 1, schema
        schema = {**normalised(members[0], root), **{k: v for k, v in schema.items() if k != "anyOf"}}
    result = {key: schema[key] for key in CHECKED if key in schema}
    if schema.get("default") is not None:
        result["default"] = schema["default"]
    if "properties" in schema:
        result["properties"] = {name: normalised(value, root) for name, value in schema["properties"].items()}
        result["required"] = sorted(schema.get("required", []))
        result["additionalProperties"] = schema.get("additionalProperties", True)
    if "items" in schema:
        result["items"] = normalised(schema["items"], root)
    return result


def resolve(reference: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict), reference
    return node


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return normalised(schema, schema)


def query_schema(operation: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The query parameters of `operation` as the object schema a model of them has."""
    parameters = [p for p in operation.get("parameters", []) if p["in"] == "query"]
    return {
        "type": "object",
        "properties": {p["name"]: normalised(p["schema"], spec) for p in parameters},
        "required": sorted(p["name"] for p in parameters if p.get("required")),
        # A query model refuses unknown parameters (extra="forbid"), which a parameter list cannot say.
        "additionalProperties": False,
    }


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)


def test_every_route_is_documented_and_nothing_else(spec: dict[str, Any]) -> None:
    documented = {name: (method, path) for name, (method, path, _) in operations(spec).items()}
    routes = {route.function_name: (route.method, route.path) for route in (*ROUTES, *ui.ROUTES)}
    pages = {route.function_name: ("GET", route.path) for route in ui.PUBLIC}
    assert documented == {**routes, **pages}


def test_only_the_status_page_and_its_files_are_public(spec: dict[str, Any]) -> None:
    """Every route needs the key and the principal but the page and its files, which hold no data."""
    public = {name for name, (_, _, operation) in operations(spec).items() if operation.get("security") == []}
    assert public == {route.function_name for route in ui.PUBLIC}


def test_path_parameters_are_the_routes_own(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec).values():
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        in_path = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        assert declared == in_path, (method, path)


@pytest.mark.parametrize("operation_id", sorted(BODIES))
def test_request_bodies_are_the_models(spec: dict[str, Any], operation_id: str) -> None:
    _, _, operation = operations(spec)[operation_id]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert normalised(body, spec) == model_schema(BODIES[operation_id])


@pytest.mark.parametrize("operation_id", sorted(QUERIES))
def test_queries_are_the_models(spec: dict[str, Any], operation_id: str) -> None:
    _, _, operation = operations(spec)[operation_id]
    assert query_schema(operation, spec) == model_schema(QUERIES[operation_id])


@pytest.mark.parametrize("operation_id", ["api_plan", "ui_plan"])
def test_the_plan_query_is_a_sync_request_with_the_asset_flattened(
    spec: dict[str, Any], operation_id: str
) -> None:
    """GET /plan (and the page's plan, the same handler) takes SyncRequest's fields as parameters, the
    asset's as kind, name and version (shared.api.plan folds them back), and no dry_run (always one)."""
    sync = model_schema(SyncRequest)
    asset = model_schema(AssetRef)
    properties = {k: v for k, v in sync["properties"].items() if k not in {"asset", "dry_run"}}
    expected = {**sync, "properties": {**properties, **asset["properties"]}}
    _, _, operation = operations(spec)[operation_id]
    assert query_schema(operation, spec) == expected
