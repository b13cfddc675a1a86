"""RegSync's small failure taxonomy, after kopf: temporary (retry later) or permanent (retrying is useless).

Who raises: the AzureML adapter classifies SDK exceptions into these (ONE place, `classify` there); the
engine raises them for its own reasons. Who maps them: each trigger adapter, once: Event Grid raises
only temporary errors (so Event Grid redelivers) and records permanent ones; the queue trigger retries
temporary ones and finalises permanent ones in the ledger; HTTP replies 503 + Retry-After or 4xx.
"""

from __future__ import annotations


class RegSyncError(Exception):
    """Base of every error RegSync raises on purpose. The message is one sentence for an operator."""


class TemporaryError(RegSyncError):
    """Worth retrying after `retry_after` seconds: throttling, timeouts, 5xx, a busy ledger row."""

    def __init__(self, message: str, *, retry_after: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(RegSyncError):
    """Retrying cannot help: refused by AzureML (4xx), a conflict, an asset that does not exist."""


class ConflictError(PermanentError):
    """The registry holds a different asset under the name and version we would create."""


class InvalidInputError(PermanentError):
    """Input from outside (an event, a request body, a policy) is malformed; nothing was written."""
