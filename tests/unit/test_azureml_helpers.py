"""The pure helpers of the AzureML adapter: deployment names, traffic shifting, and error classification.

No network and no MLClient: azure-core exceptions are built by hand with the status and headers a real
response would carry.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.azureml import classify, deployment_name, shifted_traffic
from shared.domain import ASSET_NAME_PATTERN, ASSET_VERSION_PATTERN, AssetKind, AssetRef
from shared.errors import (
    ConflictError,
    InvalidInputError,
    PermanentError,
    RegSyncError,
    TemporaryError,
)

DEPLOYMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{2,31}$")
DOING = "pushing model m:1 to workspace3 (register)"


def ref(name: str, version: str) -> AssetRef:
    return AssetRef(kind=AssetKind.MODEL, name=name, version=version)


# --- deployment_name ------------------------------------------------------------------------------------


def test_deployment_name_is_the_plain_slug_when_that_is_lossless() -> None:
    assert deployment_name(ref("credit-card-default", "1")) == "credit-card-default-v1"


@pytest.mark.parametrize(
    ("name", "version", "prefix"),
    [
        ("bert-base-uncased_fine-tuned", "3", "bert-base-uncased-fine"),
        ("Sklearn.Model", "2", "sklearn-model-v2"),
        ("7up", "1", "d7up-v1"),
    ],
)
def test_lossy_slugs_keep_a_readable_prefix_and_add_a_hash(name: str, version: str, prefix: str) -> None:
    name_ = deployment_name(ref(name, version))

    assert name_.startswith(prefix)
    assert re.fullmatch(r"[a-z][a-z0-9-]*-[0-9a-f]{8}", name_)
    assert DEPLOYMENT_NAME.fullmatch(name_)


def test_long_names_are_cut_to_32_characters_with_a_hash_of_name_and_version() -> None:
    name = deployment_name(ref("a-very-long-model-name-for-credit-scoring-in-europe", "12"))
    other = deployment_name(ref("a-very-long-model-name-for-credit-scoring-in-europe", "13"))

    assert len(name) <= 32
    assert DEPLOYMENT_NAME.fullmatch(name)
    assert name != other


def test_deployment_name_is_stable_for_one_asset_version() -> None:
    assert deployment_name(ref("credit-card-default", "4")) == deployment_name(
        ref("credit-card-default", "4")
    )


VALID_NAMES = st.from_regex(ASSET_NAME_PATTERN, fullmatch=True)
VALID_VERSIONS = st.from_regex(ASSET_VERSION_PATTERN, fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(name=VALID_NAMES, version=VALID_VERSIONS)
def test_deployment_name_is_always_a_valid_azureml_deployment_name(name: str, version: str) -> None:
    assert DEPLOYMENT_NAME.fullmatch(deployment_name(ref(name, version)))


@settings(max_examples=200, deadline=None)
@given(
    name=VALID_NAMES,
    versions=st.lists(st.integers(0, 10**11 - 1).map(str), min_size=2, max_size=2, unique=True),
)
def test_numbered_versions_of_one_name_get_different_deployment_names(name: str, versions: list[str]) -> None:
    first, second = (deployment_name(ref(name, version)) for version in versions)

    assert first != second


def test_timestamp_versions_of_a_long_name_get_different_deployment_names() -> None:
    first = deployment_name(ref("bert-base-uncased_fine-tuned", "20240501120000"))
    second = deployment_name(ref("bert-base-uncased_fine-tuned", "20240501120005"))

    assert first != second


def test_versions_differing_only_in_separators_get_different_deployment_names() -> None:
    names = {deployment_name(ref("credit-card-default", version)) for version in ("1.0", "1_0", "1-0")}

    assert len(names) == 3


# --- shifted_traffic ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "percent", "expected"),
    [
        pytest.param({}, 10, {"green": 100}, id="alone-gets-everything"),
        pytest.param({"blue": 0}, 10, {"green": 100}, id="only-idle-others"),
        pytest.param({"blue": 100}, 10, {"blue": 90, "green": 10}, id="canary"),
        pytest.param({"blue": 100}, 100, {"blue": 0, "green": 100}, id="full-cutover"),
        pytest.param({"blue": 100}, 0, {"blue": 100, "green": 0}, id="dark-launch"),
        pytest.param({"blue": 50, "red": 50}, 20, {"blue": 40, "red": 40, "green": 20}, id="proportional"),
        pytest.param(
            {"a": 33, "b": 33, "c": 34},
            50,
            {"a": 16, "b": 16, "c": 18, "green": 50},
            id="rounding-to-largest",
        ),
        pytest.param({"blue": 70, "green": 30}, 50, {"blue": 50, "green": 50}, id="already-present"),
        pytest.param({"old": 0, "blue": 100}, 25, {"blue": 75, "green": 25}, id="idle-dropped"),
        pytest.param({"blue": 30}, 40, {"blue": 60, "green": 40}, id="under-100-rescaled"),
    ],
)
def test_shifted_traffic_examples(current: dict[str, int], percent: int, expected: dict[str, int]) -> None:
    assert shifted_traffic(current, "green", percent) == expected


def test_shifted_traffic_leaves_the_callers_dict_alone() -> None:
    current = {"blue": 100}

    shifted_traffic(current, "green", 10)

    assert current == {"blue": 100}


@settings(max_examples=200, deadline=None)
@given(
    current=st.dictionaries(st.sampled_from(["blue", "red", "old", "canary", "green"]), st.integers(0, 100)),
    percent=st.integers(0, 100),
)
def test_shifted_traffic_sums_to_100_and_gives_the_new_deployment_its_share(
    current: dict[str, int], percent: int
) -> None:
    traffic = shifted_traffic(current, "green", percent)

    others_serving = any(share > 0 for name, share in current.items() if name != "green")
    assert all(isinstance(share, int) and share >= 0 for share in traffic.values())
    assert set(traffic) <= set(current) | {"green"}
    assert traffic["green"] == (percent if others_serving else 100)
    if percent > 0 or others_serving:
        assert sum(traffic.values()) == 100
    for name, share in current.items():
        if name != "green" and share == 0:
            assert traffic.get(name, 0) == 0


# --- classify -------------------------------------------------------------------------------------------


class FakeResponse:
    """What azure-core's HttpResponseError reads from a response, and nothing more."""

    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.headers = headers or {}
        self.reason = "reason"
        self.request = None

    def text(self, encoding: str | None = None) -> str:
        return ""


def http_error(
    status: int, headers: dict[str, str] | None = None, message: str = "AzureML said no", cls: Any = None
) -> HttpResponseError:
    return (cls or HttpResponseError)(message=message, response=FakeResponse(status, headers))


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_is_temporary_and_honours_retry_after(status: int) -> None:
    error = classify(http_error(status, {"Retry-After": "7"}, "Too many requests"), DOING)

    assert type(error) is TemporaryError
    assert error.retry_after == 7.0
    assert str(error) == f"{DOING}: AzureML answered {status}: Too many requests"


@pytest.mark.parametrize("status", [408, 423, 500, 502, 504])
def test_other_transient_statuses_are_temporary(status: int) -> None:
    assert type(classify(http_error(status), DOING)) is TemporaryError


def test_throttling_without_retry_after_waits_30_seconds() -> None:
    error = classify(http_error(429), DOING)

    assert isinstance(error, TemporaryError)
    assert error.retry_after == 30.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("2.5", 2.5), ("0", 1.0), ("-5", 1.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0)],
)
def test_retry_after_is_at_least_one_second_and_defaults_when_unreadable(
    header: str, expected: float
) -> None:
    error = classify(http_error(429, {"Retry-After": header}), DOING)

    assert isinstance(error, TemporaryError)
    assert error.retry_after == expected


def test_a_status_set_on_a_bare_http_error_is_classified() -> None:
    bare = HttpResponseError(message="x")
    bare.status_code = 503

    error = classify(bare, DOING)

    assert isinstance(error, TemporaryError)
    assert error.retry_after == 30.0


@pytest.mark.parametrize("cls", [HttpResponseError, ResourceExistsError])
def test_409_is_a_conflict(cls: Any) -> None:
    error = classify(http_error(409, message="version 1 exists", cls=cls), DOING)

    assert type(error) is ConflictError
    assert str(error) == f"{DOING}: AzureML refused with a conflict: version 1 exists"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, HttpResponseError),
        (401, HttpResponseError),
        (403, HttpResponseError),
        (404, ResourceNotFoundError),
    ],
)
def test_client_errors_are_permanent(status: int, cls: Any) -> None:
    error = classify(http_error(status, message="Forbidden by policy\nsecond line", cls=cls), DOING)

    assert type(error) is PermanentError
    assert str(error) == f"{DOING}: AzureML refused ({status}): Forbidden by policy"


def test_http_error_without_a_status_is_permanent() -> None:
    assert type(classify(HttpResponseError(message="odd"), DOING)) is PermanentError


@pytest.mark.parametrize(
    "error",
    [
        ServiceRequestError("connection refused"),
        ServiceResponseError("connection reset"),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_transport_failures_are_temporary(error: Exception) -> None:
    classified = classify(error, DOING)

    assert type(classified) is TemporaryError
    assert classified.retry_after == 10
    assert str(classified) == f"{DOING}: AzureML unreachable ({type(error).__name__})"


def test_an_unknown_exception_is_temporary_by_explicit_default() -> None:
    classified = classify(KeyError("surprise"), DOING)

    assert type(classified) is TemporaryError
    assert classified.retry_after == 30
    assert str(classified) == f"{DOING}: unexpected KeyError: 'surprise'"


def test_an_unknown_exception_without_a_message_still_says_something() -> None:
    classified = classify(RuntimeError(), DOING)

    assert str(classified) == f"{DOING}: unexpected RuntimeError: no message"


def test_sdk_validation_exceptions_are_permanent() -> None:
    class ValidationException(Exception):  # noqa: N818 (the SDK's name; azure.ai.ml is not imported)
        pass

    classified = classify(ValidationException("instance_count must be positive"), DOING)

    assert type(classified) is PermanentError
    assert str(classified) == f"{DOING}: instance_count must be positive"


@pytest.mark.parametrize(
    "error",
    [
        TemporaryError("busy", retry_after=60),
        PermanentError("nope"),
        ConflictError("taken"),
        InvalidInputError("bad"),
        RegSyncError("base"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_regsync_errors_pass_through_unchanged(error: RegSyncError) -> None:
    assert classify(error, DOING) is error
