"""Online endpoints that answer: a POST to the scoring URI runs the deployment's `score.py` on its model.

Azure's scoring URI is `https://{endpoint}.{region}.inference.ml.azure.com/score`; the emulator cannot own
that host name, so it serves the same name under its own base: `BASE/inference/{endpoint}.{region}.
inference.ml.azure.com/score` (`azure_uri()` gives Azure's form back). A request needs the endpoint's key
as `Authorization: Bearer KEY` (401 otherwise), is routed by the endpoint's traffic or by the
`azureml-model-deployment` header (404 when no `Succeeded` deployment has traffic), and is answered by
`score_runner.py` in a subprocess: the code (`codeConfiguration.codeId`) and the model's files
(`AZUREML_MODEL_DIR/{model folder}`) are written from the emulator's blob store into a temporary folder.
User code errors answer 424 with `ms-azureml-model-error-statuscode`/`-reason`, a run longer than the
deployment's `requestSettings.requestTimeout` (default 5 s) answers 408, as Azure's troubleshooting guide
lists them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack.emulator.state import ArmError, Scope

if TYPE_CHECKING:
    from devstack.emulator.emulator import Emulator

RUNNER = Path(__file__).with_name("score_runner.py")
HOST = re.compile(r"^([a-z0-9-]+)\.([a-z0-9]+)\.inference\.ml\.azure\.com$", re.I)
ISO_SECONDS = re.compile(r"^PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")
DEFAULT_TIMEOUT_S = 5.0  # request_settings.request_timeout_ms defaults to 5000


def emulated_uri(base_url: str, endpoint: str, region: str) -> str:
    return f"{base_url}/inference/{endpoint}.{region}.inference.ml.azure.com"


def azure_uri(scoring_uri: str) -> str:
    """The Azure form of an emulated scoring URI (what Azure itself would have answered)."""
    return "https://" + scoring_uri.split("/inference/", 1)[1]


def endpoint_keys(arm_id: str) -> dict[str, str]:
    digest = hashlib.sha256(arm_id.lower().encode()).hexdigest()
    return {"primaryKey": digest[:32], "secondaryKey": digest[32:]}


def failure(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def score(request: Request) -> Response:
    """POST BASE/inference/{endpoint}.{region}.inference.ml.azure.com/score."""
    emu: Emulator = request.app.state.emu
    emu.log_request("POST", "/inference/{host}/score")
    match = HOST.match(request.path_params["host"])
    found = find_endpoint(emu, match.group(1), match.group(2)) if match else None
    if found is None:
        return failure(404, "NotFound", "No online endpoint answers at this scoring URI.")
    scope, endpoint = found
    keys = endpoint_keys(endpoint["id"])
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if given not in keys.values():
        return failure(401, "Unauthorized", "Invalid key or token for this endpoint.")
    deployment = pick_deployment(scope, endpoint, request.headers.get("azureml-model-deployment"))
    if deployment is None:
        message = "The endpoint doesn't have any valid deployment with positive weight."
        return failure(404, "NotFound", message)
    body = (await request.body()).decode("utf-8", errors="replace")
    return await run_deployment(emu, scope, deployment, body)


def find_endpoint(emu: Emulator, name: str, region: str) -> tuple[Scope, dict[str, Any]] | None:
    emu.state.ops.settle()
    for scope in emu.state.scopes.values():
        if scope.workspace is None or scope.workspace.region.lower() != region.lower():
            continue
        endpoint = scope.resources.get(f"onlineEndpoints/{name}")
        if endpoint is not None:
            return scope, endpoint
    return None


def pick_deployment(scope: Scope, endpoint: dict[str, Any], wanted: str | None) -> dict[str, Any] | None:
    prefix = f"onlineEndpoints/{endpoint['name']}/deployments/"
    ready = {
        path.removeprefix(prefix): res
        for path, res in scope.resources.items()
        if path.startswith(prefix) and res["properties"].get("provisioningState") == "Succeeded"
    }
    if wanted:
        return ready.get(wanted)
    traffic = {d: w for d, w in (endpoint["properties"].get("traffic") or {}).items() if w and d in ready}
    if not traffic:
        return None
    name = random.choices(list(traffic), weights=list(traffic.values()))[0]  # routing, not crypto
    return ready[name]


def timeout_of(deployment: dict[str, Any]) -> float:
    setting = str((deployment["properties"].get("requestSettings") or {}).get("requestTimeout") or "")
    match = ISO_SECONDS.match(setting)
    if not match or not any(match.groups()):
        return DEFAULT_TIMEOUT_S
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


async def run_deployment(emu: Emulator, scope: Scope, deployment: dict[str, Any], body: str) -> Response:
    props = deployment["properties"]
    config = props.get("codeConfiguration") or {}
    if not config.get("codeId") or not config.get("scoringScript"):
        return failure(424, "ModelError", "The deployment has no code_configuration with a scoring script.")
    with tempfile.TemporaryDirectory(prefix="emulator-score-") as tmp:
        root = Path(tmp)
        try:
            code_dir = write_asset(emu, scope, str(config["codeId"]), "codes", root / "code")
            model_dir = root / "models"
            if props.get("model"):
                write_asset(emu, scope, model_id(props["model"]), "models", model_dir)
        except ArmError as exc:
            return failure(424, "ModelError", f"The deployment's files could not be loaded: {exc.message}")
        return await execute(code_dir, str(config["scoringScript"]), model_dir, body, timeout_of(deployment))


def model_id(model: Any) -> str:
    return str(model.get("assetId") if isinstance(model, dict) else model)


def write_asset(emu: Emulator, scope: Scope, asset_id: str, kind: str, dest: Path) -> Path:
    """Write the files of a code or model version (workspace ARM id or registry id) under `dest`."""
    props = resolve_version(emu, scope, asset_id, kind)
    uri = str(props.get("codeUri" if kind == "codes" else "modelUri") or "")
    prefix = emu.state.blob_prefix(uri)
    if prefix is None:
        raise ArmError(404, "UserError", f"No files are stored for {asset_id} ({uri}).")
    folder = prefix.rstrip("/").rsplit("/", 1)[-1]
    target = dest if kind == "codes" else dest / folder
    found = False
    for key, (data, _meta) in list(emu.state.blobs.items()):
        if key == prefix:
            rel = folder
            target = dest
        elif key.startswith(prefix.rstrip("/") + "/"):
            rel = key[len(prefix.rstrip("/")) + 1 :]
        else:
            continue
        path = (target / rel).resolve()
        if not path.is_relative_to(dest.resolve()):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        found = True
    if not found:
        raise ArmError(404, "UserError", f"No files are stored for {asset_id} ({uri}).")
    return dest


def resolve_version(emu: Emulator, scope: Scope, asset_id: str, kind: str) -> dict[str, Any]:
    state = emu.state
    registry = re.match(r"^azureml://registries/([^/]+)/\w+/([^/]+)/versions/([^/]+)$", asset_id)
    if registry:
        reg_scope = state.registry_scope(registry.group(1))
        return dict(state.get_version(reg_scope, kind, registry.group(2), registry.group(3))["properties"])
    match = re.search(rf"/{kind}/([^/]+)/versions/([^/]+)$", asset_id)
    if not match:
        raise ArmError(400, "UserError", f"Malformed asset id: {asset_id}")
    return dict(state.get_version(scope, kind, match.group(1), match.group(2))["properties"])


async def execute(code_dir: Path, script: str, model_dir: Path, body: str, timeout_s: float) -> Response:
    """Run score_runner.py in a fresh interpreter, isolated (-I), with a minimal environment."""
    result_file = code_dir.parent / "result.json"
    env = {"AZUREML_MODEL_DIR": str(model_dir), "AZUREML_ENTRY_SCRIPT": script, "PATH": os.defpath}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        str(RUNNER),
        str(code_dir),
        script,
        str(result_file),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=str(code_dir),
    )
    try:
        await asyncio.wait_for(process.communicate(body.encode()), timeout=timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return failure(408, "RequestTimeout", f"The model execution took longer than {timeout_s:g} s.")
    if not result_file.exists():
        return model_error(f"the scoring process exited ({process.returncode}) without an answer")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    if not result["ok"]:
        return model_error(f"{result['stage']}() failed: {result['error'].strip().splitlines()[-1]}")
    return Response(result["output"], 200, media_type="application/json")


def model_error(reason: str) -> Response:
    """Azure: a non-200 from the model container answers 424 with the container's status and reason."""
    safe = reason.encode("ascii", "replace").decode()[:200]
    headers = {"ms-azureml-model-error-statuscode": "500", "ms-azureml-model-error-reason": safe}
    return failure(424, "ModelError", f"An error occurred in the model container: {reason}", headers)
