"""One logger adapter for the engine: every line carries the correlation id, the asset and the target."""

from __future__ import annotations

import logging
import uuid
from collections.abc import MutableMapping
from typing import Any

log = logging.getLogger("regsync.engine")


class RegSyncLog(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        return f"[{extra.get('correlation_id', '-')}] {msg}", kwargs


def logger_for(correlation_id: str, subject: str = "", target: str = "") -> RegSyncLog:
    return RegSyncLog(log, {"correlation_id": correlation_id, "subject": subject, "target": target})


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]
