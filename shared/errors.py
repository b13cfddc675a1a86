"""RegSync's small failure taxonomy, after kopf, and the ONE function that turns any exception into a
verdict: `judge(error)`.

Who raises: the AzureML adapter classifies SDK exceptions into these (`shared.azureml.classify`); the
engine raises them for its own reasons. Who maps: `judge` here, once, into a `Failure` (temporary with a
delay, permanent, conflict, refused, invalid, or unexpected); each trigger then maps a Failure to its
reply in one table (Event Grid: raise only temporary ones so it redelivers; the queue: re-send temporary
ones with the delay asked for, finalise the rest in the ledger; HTTP: 503 + Retry-After or a 4xx).
Storage and transport failures (Azure SDK errors without a 4xx status, connection errors, timeouts) are
temporary. Pure: no Azure import (SDK errors are recognised by their module and status code).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_RETRY_AFTER = 30.0
_TEMPORARY_STATUS = frozenset({408, 423, 429, 500, 502, 503, 504})


class RegSyncError(Exception):
    """Base of every error RegSync raises on purpose. The message is one sentence for an operator."""


class TemporaryError(RegSyncError):
    """Worth retrying after `retry_after` seconds: throttling, timeouts, 5xx, a busy ledger row."""

    def __init__(self, message: str, *, retry_after: float = DEFAULT_RETRY_AFTER) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(RegSyncError):
    """Retrying cannot help: refused by AzureML (4xx), an asset that does not exist."""


class ConflictError(PermanentError):
    """The registry or a workspace holds a different asset under the name and version we would create."""


class RefusedError(PermanentError):
    """The rules, or who the caller is, do not allow it. An answer, not a fault."""


class InvalidInputError(PermanentError):
    """Input from outside (an event, a request body, a policy) is malformed; nothing was written."""


class NotFoundError(PermanentError):
    """A workspace, tenant, rule or route the request names does not exist (or is not the caller's)."""


class Kind(StrEnum):
    TEMPORARY = "temporary"  # retry after `retry_after`
    PERMANENT = "permanent"  # retrying is useless; record it
    CONFLICT = "conflict"  # final until a person acts; record it once
    REFUSED = "refused"  # the rules say no
    INVALID = "invalid"  # the input is malformed
    NOT_FOUND = "not_found"  # what the input names does not exist
    UNEXPECTED = "unexpected"  # a bug: retried like a temporary failure where retries are bounded


@dataclass(frozen=True)
class Failure:
    kind: Kind
    message: str
    retry_after: float = DEFAULT_RETRY_AFTER

    @property
    def retryable(self) -> bool:
        return self.kind in {Kind.TEMPORARY, Kind.UNEXPECTED}


def _retry_after(error: BaseException, default: float = 10.0) -> float:
    """The service's own Retry-After, in seconds, when its answer carried one."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    try:
        return max(1.0, float(headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default


def judge(error: BaseException) -> Failure:
    """The verdict on any exception. Subclasses are tested before their bases."""
    message = str(error) or type(error).__name__
    if isinstance(error, TemporaryError):
        return Failure(Kind.TEMPORARY, message, error.retry_after)
    ours: tuple[tuple[type[RegSyncError], Kind], ...] = (
        (ConflictError, Kind.CONFLICT),
        (RefusedError, Kind.REFUSED),
        (InvalidInputError, Kind.INVALID),
        (NotFoundError, Kind.NOT_FOUND),
        (PermanentError, Kind.PERMANENT),
    )
    for kind_of_error, kind in ours:
        if isinstance(error, kind_of_error):
            return Failure(kind, message)
    if isinstance(error, (ConnectionError, TimeoutError)):
        return Failure(Kind.TEMPORARY, f"a service could not be reached ({type(error).__name__})", 10.0)
    if any(kind.__module__.startswith("azure.core") for kind in type(error).__mro__):
        # An Azure SDK error: azure.core's own, or a subclass another Azure package defines.
        status = getattr(error, "status_code", None)
        if status is None or status in _TEMPORARY_STATUS:
            first_line = message.strip().splitlines()[0][:300] if message.strip() else type(error).__name__
            return Failure(Kind.TEMPORARY, f"storage or transport failure: {first_line}", _retry_after(error))
        return Failure(Kind.PERMANENT, f"a service refused ({status}): {message.splitlines()[0][:300]}")
    return Failure(Kind.UNEXPECTED, f"unexpected {type(error).__name__}: {message}")
