"""Long-running operations the way ARM runs them: endpoints and deployments that provision over time.

`State` (state.py) starts an `Operation` for every endpoint/deployment PUT or DELETE and for asset LROs
(registry writes, share). An operation ends `ready_at` seconds later (a per-world default, or a per-call
`Plan` set through the admin API, divided by `--speed`); nothing runs in the background: whoever reads a
resource or an operation settles what is due first (`Operations.settle`).

Shapes (quoted in tests/emulator/test_provisioning.py):
- the status body of `Azure-AsyncOperation` has `id`, `name`, `status`, `startTime`, `endTime`,
  `percentComplete` and, on failure, `error` (ARM's async-operations document);
- injected failures use the codes of Azure's online-endpoint troubleshooting guide: `OutOfQuota`,
  `ImageBuildFailure`, `ResourceNotReady` (the user container crashed).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_DELAYS = {"endpoint": 2.0, "deployment": 4.0}
FAILURES: dict[str, tuple[str, str]] = {
    "quota": (
        "OutOfQuota",
        "Not enough quota available for {instance} in SubscriptionId {sub}. Current usage/limit: 4/4. "
        "Additional needed: 4. Please see troubleshooting guide, available here: "
        "https://aka.ms/oe-tsg#error-outofquota",
    ),
    "image_build": (
        "ImageBuildFailure",
        "Image build failed. Check the build log under the storage account '{ws}sa' in the container "
        "'azureml' at the path 'ImageLogs/{op}/build.log'. Please see troubleshooting guide, available "
        "here: https://aka.ms/oe-tsg#error-imagebuildfailure",
    ),
    "container_crash": (
        "ResourceNotReady",
        "User container has crashed or terminated. Please see troubleshooting guide, available here: "
        "https://aka.ms/oe-tsg#error-resourcenotready",
    ),
}
TERMINAL = ("Succeeded", "Failed", "Canceled")


def iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


@dataclass
class Plan:
    """What the next PUT(s) of one endpoint/deployment do: their delay and an injected failure."""

    delay_s: float | None = None
    failure: dict[str, str] | None = None
    times: int | None = 1  # None: every PUT until cleared

    def public(self, key: str) -> dict[str, Any]:
        return {"resource": key, "delaySeconds": self.delay_s, "failure": self.failure, "times": self.times}


@dataclass
class Operation:
    """One ARM asynchronous operation; `on_done(status)` applies its effect once, when it ends."""

    id: str
    name: str
    arm_id: str
    started: float = field(default_factory=time.time)
    ready_at: float = field(default_factory=time.monotonic)
    began: float = field(default_factory=time.monotonic)
    outcome: str = "Succeeded"
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    on_done: Callable[[str], None] | None = None
    status: str = "InProgress"
    ended: float | None = None

    def settle(self, now: float) -> None:
        if self.status in TERMINAL or now < self.ready_at:
            return
        self.status, self.ended = self.outcome, time.time()
        if self.on_done is not None:
            self.on_done(self.outcome)

    def remaining_s(self) -> float:
        return max(0.0, self.ready_at - time.monotonic()) if self.status not in TERMINAL else 0.0

    def body(self) -> dict[str, Any]:
        """ARM's operation status body (asset operations, polled via Location, carry only their result)."""
        if not self.arm_id:
            return {"status": self.status, "name": self.name} | (self.result or {})
        span = self.ready_at - self.began
        done = self.status in TERMINAL
        percent = 100.0 if done else round(100.0 * min(1.0, (time.monotonic() - self.began) / span), 1)
        body: dict[str, Any] = {
            "id": self.arm_id,
            "name": self.name,
            "status": self.status,
            "startTime": iso(self.started),
            "endTime": iso(self.ended) if self.ended is not None else None,
            "percentComplete": percent,
        }
        if self.status == "Failed" and self.error:
            body["error"] = self.error
        return body


def failure_error(spec: dict[str, str], **names: str) -> dict[str, Any]:
    """`{"kind": "quota"|"image_build"|"container_crash"}` or `{"code", "message"}` -> ARM error."""
    if spec.get("kind"):
        code, template = FAILURES[spec["kind"]]
        message = spec.get("message") or template.format(**names)
    else:
        code, message = spec["code"], spec.get("message") or spec["code"]
    return {"code": code, "message": message, "details": [], "additionalInfo": []}


class Operations:
    """Every operation by id, plus the per-resource plans and the per-world delays."""

    def __init__(self, speed: float = 1.0, delays: dict[str, float] | None = None) -> None:
        self.speed = speed if speed > 0 else 1.0
        self.delays = DEFAULT_DELAYS | (delays or {})
        self.items: dict[str, Operation] = {}
        self.plans: dict[str, Plan] = {}
        self.active: dict[str, str] = {}  # resource key -> id of its operation in progress

    def settle(self) -> None:
        now = time.monotonic()
        for op in list(self.items.values()):
            op.settle(now)

    def get(self, op_id: str) -> Operation | None:
        self.settle()
        return self.items.get(op_id)

    def finished(self, result: dict[str, Any] | None = None) -> str:
        """An operation that is already over (asset writes, share)."""
        op = Operation(id=uuid.uuid4().hex, name="", arm_id="", result=result)
        op.name = op.id
        op.settle(time.monotonic())
        self.items[op.id] = op
        return op.id

    def start(
        self,
        key: str,
        kind: str,
        arm_location: str,
        on_done: Callable[[str], None],
        names: dict[str, str],
        *,
        deleting: bool = False,
    ) -> Operation:
        """Start the operation of one resource (`kind` "endpoint" or "deployment"), honouring its plan."""
        op_id = uuid.uuid4().hex
        plan = None if deleting else self.take_plan(key)
        delay = plan.delay_s if plan and plan.delay_s is not None else self.delays[kind]
        op = Operation(id=op_id, name=op_id, arm_id=f"{arm_location}/mfeOperationsStatus/{op_id}")
        op.ready_at = op.began + delay / self.speed
        if plan and plan.failure:
            op.outcome, op.error = "Failed", failure_error(plan.failure, op=op_id, **names)

        def done(status: str) -> None:
            self.active.pop(key, None)
            on_done(status)

        op.on_done = done
        self.items[op_id] = op
        self.active[key] = op_id
        op.settle(time.monotonic())
        return op

    def take_plan(self, key: str) -> Plan | None:
        plan = self.plans.get(key)
        if plan is None:
            return None
        if plan.times is not None:
            plan.times -= 1
            if plan.times <= 0:
                del self.plans[key]
        return plan

    def in_progress(self, key: str) -> bool:
        self.settle()
        return key in self.active
