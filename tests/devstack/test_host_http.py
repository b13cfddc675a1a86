"""HTTP triggers, keys and the admin routes of the local host, against tests/devstack/sample_app.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.devstack.conftest import KEYS, HostUnderTest

pytestmark = pytest.mark.integration


@pytest.fixture
def host(start_sample_host: Callable[..., HostUnderTest]) -> HostUnderTest:
    return start_sample_host()


def test_function_auth_refuses_a_request_without_key(host: HostUnderTest) -> None:
    with host.client() as client:
        assert client.get("/api/greet/ada").status_code == 401
        assert client.get("/api/greet/ada", params={"code": "wrong"}).status_code == 401


def test_function_key_in_header_or_query_and_master_key_are_accepted(host: HostUnderTest) -> None:
    with host.client() as client:
        assert client.get("/api/greet/ada", headers={"x-functions-key": KEYS.function}).status_code == 200
        assert client.get("/api/greet/ada", params={"code": KEYS.function}).status_code == 200
        assert client.get("/api/greet/ada", params={"code": KEYS.master}).status_code == 200


def test_route_params_query_body_and_auth_headers_reach_the_function(host: HostUnderTest) -> None:
    with host.client() as client:
        response = client.post(
            "/api/greet/ada/lovelace",
            params={"code": KEYS.function, "lang": "en"},
            headers={"X-MS-CLIENT-PRINCIPAL": "eyJwcmluY2lwYWwiOiJ4In0="},
            content=b"hello body",
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "method": "POST",
        "route": {"name": "ada", "suffix": "lovelace"},
        "params": {"code": KEYS.function, "lang": "en"},
        "body": "hello body",
        "principal": "eyJwcmluY2lwYWwiOiJ4In0=",
    }


def test_optional_route_param_may_be_omitted(host: HostUnderTest) -> None:
    with host.client() as client:
        response = client.get("/api/greet/ada", params={"code": KEYS.function})
    assert response.json()["route"] == {"name": "ada"}


def test_anonymous_route_needs_no_key_and_keeps_response_headers(host: HostUnderTest) -> None:
    with host.client() as client:
        response = client.get("/api/health")
    assert (response.status_code, response.text, response.headers["x-sample"]) == (200, "ok", "yes")


def test_unknown_route_and_wrong_method_are_404(host: HostUnderTest) -> None:
    with host.client() as client:
        assert client.get("/api/nothing-here").status_code == 404
        assert client.put("/api/greet/ada", params={"code": KEYS.function}).status_code == 404


def test_admin_lists_functions_with_master_key_only(host: HostUnderTest) -> None:
    with host.client() as client:
        assert client.get("/admin/functions", params={"code": KEYS.function}).status_code == 401
        listed = client.get("/admin/functions", headers={"x-functions-key": KEYS.master}).json()
    triggers = {item["name"]: item["trigger"] for item in listed}
    assert triggers == {
        "greet": "httpTrigger",
        "health": "httpTrigger",
        "on_sample_event": "eventGridTrigger",
        "on_sample_message": "queueTrigger",
        "sample_tick": "timerTrigger",
    }
    queue = next(item for item in listed if item["name"] == "on_sample_message")
    assert queue["binding"]["queueName"] == host.host.settings["SAMPLE_QUEUE"]


def test_route_prefix_comes_from_host_json(start_sample_host: Callable[..., HostUnderTest]) -> None:
    from devstack.host import HostConfig

    host = start_sample_host(config=HostConfig.from_host_json({"extensions": {"http": {"routePrefix": ""}}}))
    with host.client() as client:
        assert client.get("/health").status_code == 200
        assert client.get("/api/health").status_code == 404
