"""The emulator's "done when" check: register -> share -> register elsewhere -> deploy online and batch.

`python -m devstack.emulator.smoke --env-file DIR/emulator.env` against an emulator started on the seed
world. Uses only azure-ai-ml and the variables of emulator.env (set before the SDK is imported), prints
each step and exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SUB1 = "11111111-1111-1111-1111-111111111111"
SUB2 = "22222222-2222-2222-2222-222222222222"
REGISTRY = "regsync-registry"


class StaticCredential:
    """Any bearer token is accepted by the emulator; azure-identity is never contacted."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("emulator-token", int(time.time()) + 3600)


def client(
    subscription: str, resource_group: str, workspace: str | None = None, registry: str | None = None
) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(
        StaticCredential(),
        subscription_id=subscription,
        resource_group_name=resource_group,
        workspace_name=workspace,
        registry_name=registry,
    )


def model_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="smoke-model-"))
    (folder / "model.pkl").write_bytes(b"not really a pickle")
    (folder / "README.md").write_text("smoke model\n", encoding="utf-8")
    return folder


def step(text: str) -> None:
    print(f"- {text}", flush=True)


def run() -> None:
    from azure.ai.ml.entities import (
        BatchEndpoint,
        ManagedOnlineDeployment,
        ManagedOnlineEndpoint,
        Model,
        ModelBatchDeployment,
    )

    name, ws1 = f"smoke-{uuid.uuid4().hex[:6]}", client(SUB1, "rg-tenants", "workspace1")
    model = ws1.models.create_or_update(
        Model(name=name, version="1", path=str(model_folder()), type="custom_model")
    )
    step(f"registered {model.name}:{model.version} in workspace1")
    shared = ws1.models.share(
        name=name, version="1", registry_name=REGISTRY, share_with_name=name, share_with_version="1"
    )
    step(f"shared to {REGISTRY}: {shared.id}")
    registry_id = f"azureml://registries/{REGISTRY}/models/{name}/versions/1"
    ws4 = client(SUB2, "rg-woodgrove", "workspace4")
    local = ws4.models.create_or_update(Model(path=registry_id, name=name, version="1"))
    step(f"registered the registry model in workspace4: {local.name}:{local.version}")
    endpoint = ws4.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name=f"{name}-on")).result()
    deployment = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=endpoint.name,
        model=registry_id,
        instance_type="Standard_DS3_v2",
        instance_count=1,
    )
    deployed = ws4.online_deployments.begin_create_or_update(deployment).result()
    step(f"online deployment {endpoint.name}/{deployed.name}: {deployed.provisioning_state}")
    batch = ws4.batch_endpoints.begin_create_or_update(BatchEndpoint(name=f"{name}-b")).result()
    batch_deployment = ModelBatchDeployment(
        name="b1", endpoint_name=batch.name, model=registry_id, compute="cpu-cluster"
    )
    deployed_b = ws4.batch_deployments.begin_create_or_update(batch_deployment).result()
    step(f"batch deployment {batch.name}/{deployed_b.name}: {deployed_b.provisioning_state}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.emulator.smoke", description=__doc__)
    parser.add_argument("--env-file", type=Path, required=True)
    args = parser.parse_args(argv)
    for line in args.env_file.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key:
            os.environ[key.strip()] = value.strip()
    try:
        run()
    except Exception as exc:
        print(f"smoke failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("smoke: every call succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
