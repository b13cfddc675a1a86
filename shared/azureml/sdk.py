"""How RegSync meets the azure-ai-ml SDK: credentials, the classification of its errors into RegSync's
temporary/permanent taxonomy (in ONE place, `classify`), and small readers of its entities.

Who calls it: the AzureML adapter's modules (shared.azureml.gateway, shared.azureml.deployments); the
tests and devstack for StaticDevCredential. Credentials: DefaultAzureCredential (managed identity) in
Azure, created by the gateway; a static development token only when the settings say we are pointed at
devstack's emulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.domain import Asset, AssetKind, AssetRef
from shared.errors import ConflictError, PermanentError, RegSyncError, TemporaryError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

T = TypeVar("T")
_TEMPORARY_STATUS = {408, 423, 429, 500, 502, 503, 504}


class StaticDevCredential:
    """A fixed bearer token for devstack's emulator, which accepts any token. Never used against Azure."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("regsync-local-development-token", int(time.time()) + 3600)


def classify(error: Exception, doing: str) -> RegSyncError:
    """Map an SDK or transport exception to temporary or permanent. Unknown errors count as temporary:
    the attempt limit on pushes (and Event Grid's 24 h) bounds the retries of a real bug."""
    if isinstance(error, RegSyncError):
        return error
    if isinstance(error, (ServiceRequestError, ServiceResponseError, TimeoutError, ConnectionError)):
        return TemporaryError(f"{doing}: AzureML unreachable ({type(error).__name__})", retry_after=10)
    if isinstance(error, HttpResponseError):
        status = error.status_code or 0
        message = _first_line(error.message or str(error))
        if status == 409:
            return ConflictError(f"{doing}: AzureML refused with a conflict: {message}")
        if status in _TEMPORARY_STATUS:
            return TemporaryError(
                f"{doing}: AzureML answered {status}: {message}", retry_after=_retry_after(error)
            )
        return PermanentError(f"{doing}: AzureML refused ({status}): {message}")
    name = type(error).__name__
    if name == "ValidationException" and "already exists" in str(error):
        # The SDK checks a registry share's destination itself before it calls AzureML.
        return ConflictError(f"{doing}: {_first_line(str(error))}")
    if name in {"ValidationException", "UserErrorException", "MlException"}:
        return PermanentError(f"{doing}: {_first_line(str(error))}")
    return TemporaryError(f"{doing}: unexpected {name}: {_first_line(str(error))}", retry_after=30)


def _retry_after(error: HttpResponseError) -> float:
    headers = getattr(error.response, "headers", None) or {}
    try:
        return max(1.0, float(headers.get("Retry-After", "30")))
    except ValueError:
        return 30.0


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no message"


def operations_for(client: MLClient, kind: AssetKind) -> Any:
    return {
        AssetKind.MODEL: client.models,
        AssetKind.ENVIRONMENT: client.environments,
        AssetKind.COMPONENT: client.components,
        AssetKind.DATA: client.data,
    }[kind]


def asset_of(ref: AssetRef, entity: Any) -> Asset:
    tags = {str(key): str(value) for key, value in (getattr(entity, "tags", None) or {}).items()}
    job = getattr(entity, "job_name", None)
    return Asset(ref=ref, tags=tags, job_name=str(job) if job else None)


def get_or_none(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except ResourceNotFoundError:
        return None


def get_or_create(read: Callable[[], T], begin_create: Callable[[], Any]) -> T:
    """An endpoint as it is, or created (a long-running operation, waited for) when it is missing."""
    found = get_or_none(read)
    return found if found is not None else cast(T, begin_create().result())


@contextmanager
def classified(doing: str) -> Iterator[None]:
    try:
        yield
    except ResourceExistsError as error:
        raise ConflictError(f"{doing}: already exists: {_first_line(str(error))}") from error
    except Exception as error:
        raise classify(error, doing) from error
