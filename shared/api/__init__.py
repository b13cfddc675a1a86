"""The HTTP API's logic, framework-free: ApiRequest -> (caller check, validation, engine) -> ApiResponse.

Who calls it: functions/http_api.py registers one HTTP trigger per entry of ROUTES and passes each
request to `dispatch`; it also maps the errors raised here to status codes, in one place. docs/api.md
and docs/openapi.yaml describe the routes. The modules: `call` (requests, responses, input models, the
Call the handlers get), `actions` (sync, plan, pull, approve), `views` (status, audit), `rules`, and
`routes` (the route table and `dispatch`).

Every route first identifies the caller (shared.auth), then validates its input completely (pydantic,
unknown fields refused), then checks that the caller may act for every tenant or workspace the request
names, and only then reads or writes: a refused or malformed request writes nothing. Dry runs use the
engine's dry-run paths, which make no table writes, queue messages or AzureML writes.

Tenant callers: the expensive routes (pull, sync, plan) take a token from the tenant's bucket first
(shared.ratelimit; 429 when it is empty); what they are answered with about other tenants is uniform
(the engine's lookups and TenantView); their audit view is a query of their own partition.
"""

from shared.api.call import (
    JSON,
    ApiRequest,
    ApiResponse,
    ApproveRequest,
    AuditQuery,
    PayloadTooLargeError,
    PolicyProblemsError,
    PullRequest,
    RateLimitedError,
    StatusQuery,
    SyncRequest,
)
from shared.api.routes import ROUTES, Route, dispatch

__all__ = [
    "JSON",
    "ROUTES",
    "ApiRequest",
    "ApiResponse",
    "ApproveRequest",
    "AuditQuery",
    "PayloadTooLargeError",
    "PolicyProblemsError",
    "PullRequest",
    "RateLimitedError",
    "Route",
    "StatusQuery",
    "SyncRequest",
    "dispatch",
]
