"""One logger adapter for the engine: every line carries the correlation id, the asset and the target,
in its text and as fields of the log record (`correlation_id`, `asset`, `target`, and `outcome` where a
line reports one), which an OpenTelemetry exporter turns into log attributes (Application Insights:
`customDimensions`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import MutableMapping
from typing import Any

log = logging.getLogger("regsync.engine")


class RegSyncLog(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        # The adapter's fields, then the call's own `extra` (e.g. the outcome) over them.
        fields = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        kwargs["extra"] = fields
        return f"[{fields.get('correlation_id') or '-'}] {msg}", kwargs


def logger_for(correlation_id: str, subject: str = "", target: str = "") -> RegSyncLog:
    return RegSyncLog(log, {"correlation_id": correlation_id, "asset": subject, "target": target})


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]
