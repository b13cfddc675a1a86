"""The one error verdict: `judge` turns any exception into a Failure (kind, message, delay). RegSync's own
errors map to their kind (subclasses before bases), transport and Azure SDK errors are told apart by
status, anything else is unexpected. Azure errors are real azure.core objects, never look-alikes.
"""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import HttpRequest, RequestsTransportResponse
from azure.data.tables import TableTransactionError

from shared.errors import (
    DEFAULT_RETRY_AFTER,
    ConflictError,
    Failure,
    InvalidInputError,
    Kind,
    NotFoundError,
    PermanentError,
    RefusedError,
    RegSyncError,
    TemporaryError,
    judge,
)


def response(status: int, body: bytes = b"") -> RequestsTransportResponse:
    """A real azure.core transport response with `status`, as the SDK's pipeline builds it."""
    raw = requests.Response()
    raw.status_code = status
    raw._content = body
    return RequestsTransportResponse(HttpRequest("GET", "https://example.invalid/x"), raw)


def http_error(status: int | None, message: str = "the service said no") -> HttpResponseError:
    return HttpResponseError(message=message, response=response(status) if status is not None else None)


# --- RegSync's own errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConflictError("registry model m:1 holds another asset"), Kind.CONFLICT),
        (RefusedError("no rule allows it"), Kind.REFUSED),
        (InvalidInputError("subject is malformed"), Kind.INVALID),
        (NotFoundError("tenant `acme` does not exist"), Kind.NOT_FOUND),
        (PermanentError("AzureML refused (400)"), Kind.PERMANENT),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_of_our_errors_maps_to_its_kind_with_its_message(error: RegSyncError, kind: Kind) -> None:
    assert judge(error) == Failure(kind, str(error), DEFAULT_RETRY_AFTER)


def test_the_subclasses_of_permanent_are_not_judged_as_plain_permanent() -> None:
    # All five are PermanentErrors: the verdict must be the most specific one, not the base's.
    kinds = {judge(cls("x")).kind for cls in (ConflictError, RefusedError, InvalidInputError, NotFoundError)}

    assert kinds == {Kind.CONFLICT, Kind.REFUSED, Kind.INVALID, Kind.NOT_FOUND}


def test_a_subclass_of_ours_is_judged_by_its_nearest_known_base() -> None:
    class ThrottledError(TemporaryError):
        pass

    class NameTakenError(ConflictError):
        pass

    assert judge(ThrottledError("429", retry_after=12)) == Failure(Kind.TEMPORARY, "429", 12)
    assert judge(NameTakenError("taken")).kind is Kind.CONFLICT


@pytest.mark.parametrize("retry_after", [0.5, 7.0, 120.0])
def test_a_temporary_error_keeps_the_delay_it_asked_for(retry_after: float) -> None:
    assert judge(TemporaryError("throttled", retry_after=retry_after)) == Failure(
        Kind.TEMPORARY, "throttled", retry_after
    )


def test_a_temporary_error_without_a_delay_waits_the_default() -> None:
    assert judge(TemporaryError("busy")).retry_after == DEFAULT_RETRY_AFTER


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    assert judge(ConflictError()).message == "ConflictError"


def test_the_bare_base_error_is_not_a_known_kind() -> None:
    # Raising RegSyncError itself says nothing about retrying: the explicit default applies.
    assert judge(RegSyncError("something")).kind is Kind.UNEXPECTED


# --- transport and the Azure SDK ------------------------------------------------------------------


@pytest.mark.parametrize(
    "error", [ConnectionError("reset"), ConnectionRefusedError(111, "refused"), TimeoutError()]
)
def test_connection_errors_and_timeouts_are_temporary(error: OSError) -> None:
    failure = judge(error)

    assert failure.kind is Kind.TEMPORARY
    assert failure.retry_after == 10.0
    assert failure.message == f"a service could not be reached ({type(error).__name__})"


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ServiceRequestError("connection refused"), id="request-never-sent"),
        pytest.param(ServiceResponseError("connection reset"), id="response-lost"),
        pytest.param(http_error(None), id="no-status"),
        pytest.param(http_error(429), id="429"),
        pytest.param(http_error(503), id="503"),
        pytest.param(http_error(500), id="500"),
        pytest.param(http_error(408), id="408"),
    ],
)
def test_azure_transport_failures_and_busy_services_are_temporary(error: Exception) -> None:
    failure = judge(error)

    assert failure.kind is Kind.TEMPORARY
    assert failure.retryable
    assert failure.message.startswith("storage or transport failure: ")


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(http_error(400), id="400"),
        pytest.param(http_error(403), id="403"),
        pytest.param(http_error(404), id="404"),
        pytest.param(ResourceNotFoundError(message="no such table", response=response(404)), id="not-found"),
    ],
)
def test_azure_refusals_are_permanent_and_name_the_status(error: HttpResponseError) -> None:
    failure = judge(error)

    assert failure.kind is Kind.PERMANENT
    assert not failure.retryable
    assert failure.message.startswith(f"a service refused ({error.status_code}): ")


def test_an_azure_message_is_cut_to_its_first_line() -> None:
    temporary = judge(http_error(503, "unavailable\nstack trace\nmore"))
    permanent = judge(http_error(400, "bad request\nbody: {...}"))

    assert temporary.message == "storage or transport failure: unavailable"
    assert permanent.message == "a service refused (400): bad request"


def test_an_azure_message_is_cut_to_300_characters() -> None:
    failure = judge(http_error(400, "x" * 1000))

    assert failure.message == "a service refused (400): " + "x" * 300


def test_an_error_elsewhere_with_a_status_code_is_not_taken_for_an_azure_one() -> None:
    class LooksLikeAzureError(Exception):
        status_code = 503

    assert judge(LooksLikeAzureError("nope")).kind is Kind.UNEXPECTED


@pytest.mark.parametrize(("status", "kind"), [(400, Kind.PERMANENT), (503, Kind.TEMPORARY)])
def test_an_azure_sdk_error_subclass_from_another_azure_package_is_judged_by_its_status(
    status: int, kind: Kind
) -> None:
    error = TableTransactionError(message="the batch failed", response=response(status))

    assert judge(error).kind is kind


# --- everything else ------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [ValueError("bad"), KeyError("k"), RuntimeError("boom")])
def test_anything_else_is_unexpected_and_says_what_it_was(error: Exception) -> None:
    failure = judge(error)

    assert failure.kind is Kind.UNEXPECTED
    assert failure.message == f"unexpected {type(error).__name__}: {error}"


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (Kind.TEMPORARY, True),
        (Kind.UNEXPECTED, True),
        (Kind.PERMANENT, False),
        (Kind.CONFLICT, False),
        (Kind.REFUSED, False),
        (Kind.INVALID, False),
        (Kind.NOT_FOUND, False),
    ],
)
def test_only_temporary_and_unexpected_failures_are_retried(kind: Kind, retryable: bool) -> None:
    assert Failure(kind, "m").retryable is retryable


def test_every_kind_has_a_retry_verdict() -> None:
    assert {kind for kind in Kind if Failure(kind, "m").retryable} == {Kind.TEMPORARY, Kind.UNEXPECTED}
