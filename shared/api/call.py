"""What an API request is, as the route handlers see it: ApiRequest and ApiResponse, the errors only HTTP
has, the pydantic models of request bodies and queries, and `Call` (one request with its caller and
engine: body and query parsing, audit lines).

Who calls it: the route handlers (shared.api.actions, .views, .rules) and the dispatcher
(shared.api.routes); functions/http_api.py through `shared.api`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)
from pydantic import Strict as Strict_

from shared.auth import Caller
from shared.bounded import load_json, shown
from shared.domain import AssetKind, AssetName, AssetRef, AssetVersion, TenantId, WorkspaceName
from shared.engine import Engine
from shared.entities import AUDIT_ROW
from shared.errors import InvalidInputError
from shared.policy_file import Problem
from shared.records import AuditRecord
from shared.settings import load_settings
from shared.storage import StateStore

M = TypeVar("M", bound=BaseModel)
# The Functions host passes the function key as `?code=`; it is the platform's, never an input of ours.
PLATFORM_PARAMS = frozenset({"code"})
AUDIT_PAGE_LIMIT = 1000  # records per page of the audit view, at most


# --- requests, responses and the errors only HTTP has -----------------------------------------------


@dataclass(frozen=True)
class ApiRequest:
    method: str
    route: str  # the route template it came in on, e.g. `rules/{rule_id}`
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    route_params: Mapping[str, str] = field(default_factory=dict)


JSON = "application/json"


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any  # JSON-serialisable; for another media type (the status page's HTML), str or bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str = JSON


class PayloadTooLargeError(InvalidInputError):
    """The request body is larger than settings.max_body_bytes (HTTP 413)."""


class RateLimitedError(Exception):
    """A tenant's bucket for the expensive routes is empty (HTTP 429 with Retry-After)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PolicyProblemsError(InvalidInputError):
    """A policy document with problems; each names its line (HTTP 400 listing them)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = [{"line": p.line, "where": p.where, "message": p.message} for p in problems]
        count = len(self.problems)
        super().__init__(f"the policy document has {count} problem{'s' if count != 1 else ''}")


# --- request bodies and queries ----------------------------------------------------------------------


class Strict(BaseModel):
    """Unknown fields refused; fields whose lax coercion could change a request's meaning are strict
    (`"dry_run": "false"` or `0` once ran a real sync)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _query_integer(value: object) -> object:
    # Query strings are text: an integer is accepted as plain decimal digits only ("10", not " 10 ",
    # "+10", "1_0" or "10.0", which pydantic's lax mode would also read as 10).
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{1,9}", value):
            raise ValueError("should be an integer written in decimal digits")
        return int(value)
    return value


QueryInt = Annotated[int, BeforeValidator(_query_integer), Strict_()]


class NoQuery(Strict):
    """The query of a route that takes no parameters: any parameter (but the platform's) is refused."""


class SyncRequest(Strict):
    """What to reconcile: everything, a tenant's workspaces, one workspace, or one asset of a workspace."""

    scope: Literal["all", "tenant", "workspace", "asset"]
    tenant: TenantId | None = None
    workspace: WorkspaceName | None = None
    asset: AssetRef | None = None
    dry_run: StrictBool = False

    @model_validator(mode="after")
    def _fields_fit_the_scope(self) -> SyncRequest:
        wanted = {
            "all": set(),
            "tenant": {"tenant"},
            "workspace": {"workspace"},
            "asset": {"workspace", "asset"},
        }
        given = {name for name in ("tenant", "workspace", "asset") if getattr(self, name) is not None}
        if given != wanted[self.scope]:
            needs = ", ".join(sorted(wanted[self.scope])) or "nothing else"
            raise ValueError(f"scope `{self.scope}` takes {needs}")
        return self


class PullRequest(Strict):
    workspace: WorkspaceName
    kind: AssetKind
    name: AssetName
    version: AssetVersion | None = None


class ApproveRequest(Strict):
    workspace: WorkspaceName
    kind: AssetKind
    name: AssetName
    version: AssetVersion


class StatusQuery(Strict):
    tenant: TenantId | None = None
    workspace: WorkspaceName | None = None
    kind: AssetKind | None = None
    name: AssetName | None = None


class AuditQuery(Strict):
    day: str | None = Field(default=None, pattern=r"^[0-9]{8}$")
    limit: QueryInt = Field(default=100, ge=1, le=AUDIT_PAGE_LIMIT)
    tenant: TenantId | None = None
    continuation: str | None = Field(default=None, pattern=AUDIT_ROW)


# --- one request, as the handlers see it ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    request: ApiRequest
    caller: Caller
    engine: Engine[StateStore]
    correlation_id: str

    @property
    def store(self) -> StateStore:
        return self.engine.store

    def body(self, model: type[M]) -> M:
        # Bounded: depth checked before parsing, duplicate keys and NaN refused (dispatch bounds size).
        data = load_json(self.request.body, max_depth=load_settings().max_json_depth, what="the request body")
        if not isinstance(data, dict):
            raise InvalidInputError("the request body must be a JSON object")
        return validated(model, data)

    def query(self, model: type[M], **fixed: Any) -> M:
        params = {key: value for key, value in self.request.params.items() if key not in PLATFORM_PARAMS}
        return validated(model, {**params, **fixed})

    def audit(
        self,
        action: str,
        outcome: str,
        reason: str,
        *,
        subject: str = "",
        target: str = "",
        tenant: str | None = None,
    ) -> None:
        """An audit line concerning `tenant` (default: the caller's own, if it is a tenant)."""
        about = tenant or self.caller.tenant
        record = AuditRecord(
            action,
            outcome,
            reason,
            subject,
            target,
            self.caller.name,
            self.correlation_id,
            tenants=(about,) if about else (),
        )
        self.store.audit(record)


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    """`data` as `model`, or InvalidInputError naming the first wrong field (and how many more)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = error.errors()
        first = problems[0]
        where = shown(".".join(str(part) for part in first["loc"]))  # a key may be hostile
        message = str(first["msg"]).removeprefix("Value error, ")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInputError(f"{f'`{where}`: ' if where else ''}{message}{more}") from None


def ok(body: Any, status: int = 200) -> ApiResponse:
    return ApiResponse(status, body)
