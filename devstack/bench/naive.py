"""The naive baseline: what an operator would script with the public SDK alone, no RegSync.

Share the model into the registry (`models.share`), then register the registry version in each target
workspace (`models.create_or_update` of a Model whose path is the registry asset id), one after the
other. Same process, same emulator world and injected latency as RegSync's run beside it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from devstack.bench.stack import Stack, summarise_calls
from shared.domain import Workspace


def naive_propagation(
    stack: Stack, origin: Workspace, name: str, targets: Sequence[Workspace]
) -> dict[str, Any]:
    """The share, then every registration one after the other: seconds and AzureML calls of each phase
    (the request log is read between the phases, outside the timings)."""
    from azure.ai.ml.entities import Model

    registry = stack.registry.name
    stack.admin.reset_request_log()
    start = time.perf_counter()
    stack.tenant_client(origin).models.share(
        name=name, version="1", registry_name=registry, share_with_name=name, share_with_version="1"
    )
    share_s = time.perf_counter() - start
    share = summarise_calls(stack.admin.request_counts())
    stack.admin.reset_request_log()
    start = time.perf_counter()
    registry_id = f"azureml://registries/{registry}/models/{name}/versions/1"
    for target in targets:
        client: Any = stack.tenant_client(target)
        client.models.create_or_update(Model(name=name, version="1", path=registry_id))
    pushes_s = time.perf_counter() - start
    push = summarise_calls(stack.admin.request_counts())
    return {"total_s": round(share_s + pushes_s, 3), "share": share, "push": push, "pushes": len(targets)}
