"""The HTTP API's logic, framework-free: ApiRequest -> (caller check, validation, engine) -> ApiResponse.

Who calls it: functions/http_api.py registers one HTTP trigger per entry of ROUTES and passes each
request to `dispatch`; it also maps the errors raised here to status codes, in one place. docs/api.md
and docs/openapi.yaml describe the routes.

Every route first identifies the caller (shared.auth), then validates its input completely (pydantic,
unknown fields refused), then checks that the caller may act for every tenant or workspace the request
names, and only then reads or writes: a refused or malformed request writes nothing. Dry runs use the
engine's dry-run paths, which make no table writes, queue messages or AzureML writes.

Tenant callers: the expensive routes (pull, sync, plan) take a token from the tenant's bucket first
(shared.ratelimit; 429 when it is empty); what they are answered with about other tenants is uniform
(the engine's lookups and TenantView); their audit view is a query of their own partition.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic import Strict as Strict_

from shared.admin import apply_document
from shared.auth import Caller, ForbiddenError, parse_principal
from shared.bounded import load_json, shown
from shared.domain import AssetKind, AssetName, AssetRef, AssetVersion, LedgerStatus, TenantId, WorkspaceName
from shared.engine import Engine, SyncScope, TenantView
from shared.entities import AUDIT_ROW, iso
from shared.errors import ConflictError, InvalidInputError, NotFoundError
from shared.policy import PushRule, RuleId, ShareRule
from shared.policy_file import PolicyDocument, PolicyFileError, Problem, parse_policy
from shared.ratelimit import RateLimiter
from shared.records import AuditRecord, LedgerEntry, Status
from shared.settings import load_settings
from shared.storage import StateError, StateStore

M = TypeVar("M", bound=BaseModel)
# The Functions host passes the function key as `?code=`; it is the platform's, never an input of ours.
PLATFORM_PARAMS = frozenset({"code"})
AUDIT_PAGE_LIMIT = 1000  # records per page of the audit view, at most
_ERROR_STATES = {LedgerStatus.FAILED, LedgerStatus.RETRYING, LedgerStatus.CONFLICT, LedgerStatus.REFUSED}


# --- requests, responses and the errors only HTTP has -----------------------------------------------


@dataclass(frozen=True)
class ApiRequest:
    method: str
    route: str  # the route template it came in on, e.g. `rules/{rule_id}`
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    route_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any  # JSON-serialisable
    headers: Mapping[str, str] = field(default_factory=dict)


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


# --- sync and plan: the engine's use case, checked and audited there -------------------------------------


def sync(call: Call) -> ApiResponse:
    return run_sync(call, call.body(SyncRequest))


def plan(call: Call) -> ApiResponse:
    params = {key: value for key, value in call.request.params.items() if key not in PLATFORM_PARAMS}
    asset = {key: params.pop(key) for key in ("kind", "name", "version") if key in params}
    return run_sync(
        call, validated(SyncRequest, {**params, **({"asset": asset} if asset else {}), "dry_run": True})
    )


def run_sync(call: Call, request: SyncRequest) -> ApiResponse:
    scope = SyncScope(request.scope, request.tenant, request.workspace, request.asset, request.dry_run)
    result = call.engine.sync(scope, caller=call.caller, correlation_id=call.correlation_id)
    body: dict[str, Any] = {
        "correlation_id": result.correlation_id,
        "scope": result.scope,
        "dry_run": result.dry_run,
    }
    if result.scheduled is not None:
        return ok({**body, "scheduled": result.scheduled}, 202)
    return ok({**body, "outcomes": [outcome.as_dict() for outcome in result.outcomes]})


# --- pull and approve -----------------------------------------------------------------------------------


def pull(call: Call) -> ApiResponse:
    """A refusal by the rules is an answer, not an error: 200 with status `refused` and the reason."""
    request = call.body(PullRequest)
    outcome = call.engine.pull(
        request.workspace,
        request.kind,
        request.name,
        request.version,
        correlation_id=call.correlation_id,
        caller=call.caller,
    )
    status = 200 if outcome.status is Status.REFUSED else 202
    return ok({"correlation_id": call.correlation_id, "outcome": outcome.as_dict()}, status)


def approve(call: Call) -> ApiResponse:
    request = call.body(ApproveRequest)
    ref = AssetRef(kind=request.kind, name=request.name, version=request.version)
    outcome = call.engine.approve(
        request.workspace,
        ref,
        approver=call.caller.name,
        correlation_id=call.correlation_id,
        caller=call.caller,
    )
    return ok({"correlation_id": call.correlation_id, "outcome": outcome.as_dict()}, 202)


# --- status and audit -----------------------------------------------------------------------------------


def status(call: Call) -> ApiResponse:
    """Ledger rows: pushes (asset -> workspace) and shares (asset -> registry), filtered for the caller."""
    query = call.query(StatusQuery)
    owners = {workspace.name: workspace.tenant for workspace in call.store.list_workspaces()}
    if query.workspace is not None:
        call.engine.workspace_for(call.caller, query.workspace)
    if query.tenant is not None:
        call.engine.tenant_for(call.caller, query.tenant)
    tenant = query.tenant or call.caller.tenant  # a tenant caller sees its own tenant only
    pushes: list[dict[str, Any]] = []
    shares: list[dict[str, Any]] = []
    # One scan: share rows are keyed by asset, their origin is a field (an operator query, not a hot path).
    for entry in call.store.list_ledger():
        row = status_row(entry)
        about, asset = row["workspace"], row["asset"]
        if (
            (tenant is not None and owners.get(about) != tenant)
            or (query.workspace is not None and about != query.workspace)
            or (query.kind is not None and asset["kind"] != query.kind.value)
            or (query.name is not None and asset["name"] != query.name)
        ):
            continue
        (pushes if entry.workspace else shares).append(row)
    # The workspaces in view, rows or not: a status matrix has a column for each.
    workspaces = sorted(
        name
        for name, owner_tenant in owners.items()
        if (tenant is None or owner_tenant == tenant) and query.workspace in (None, name)
    )
    return ok({"pushes": pushes, "shares": shares, "workspaces": workspaces})


def status_row(entry: LedgerEntry) -> dict[str, Any]:
    kind, name, version = entry.asset_key.split(":", 2)  # names and versions hold no ':'
    return {
        "asset": {"kind": kind, "name": name, "version": version},
        "target": entry.workspace or "registry",
        # The workspace a row is about: a push's target, or the workspace a share came from.
        "workspace": entry.workspace or str(entry.detail.get("origin", "")),
        "state": entry.status.value,
        "attempts": entry.attempts,
        "message": entry.message,
        "last_error": entry.message if entry.status in _ERROR_STATES else "",
        "updated": iso(entry.updated),
    }


AUDIT_FIELDS = ("action", "outcome", "reason", "subject", "target", "actor", "correlation_id")


def audit(call: Call) -> ApiResponse:
    """A page of one day's records, newest first, from one partition: the provider's (all records, or
    with `tenant` that tenant's), or a tenant caller's own. `continuation` fetches the next page."""
    query = call.query(AuditQuery)
    try:
        day = datetime.strptime(query.day, "%Y%m%d").replace(tzinfo=UTC) if query.day else datetime.now(UTC)
    except ValueError:
        raise InvalidInputError(f"`day`: {query.day} is not a date (YYYYMMDD)") from None
    caller = call.caller
    if query.tenant is not None and not caller.provider:
        call.engine.tenant_for(caller, query.tenant)  # its own, or "not found or not yours"
    tenant = query.tenant or caller.tenant
    page = call.store.audit_page(day=day, tenant=tenant, limit=query.limit, after=query.continuation)
    # Records concern the tenant, but a reason may name another tenant's things (e.g. the origin of a
    # refused push): the same TenantView as for outcomes rewrites them.
    view = None if caller.provider or tenant is None else TenantView.of(tenant, call.engine.world())
    rows = []
    for record in page.records:
        row: dict[str, Any] = {name: getattr(record, name) for name in AUDIT_FIELDS}
        if view is not None:
            row["reason"] = view.reason(record.outcome, record.reason)
        else:
            row["tenants"] = list(record.tenants)
        rows.append({**row, "at": iso(record.at)})
    return ok(
        {
            "day": day.strftime("%Y%m%d"),
            "tenant": tenant,
            "records": rows,
            "continuation": page.continuation,
        }
    )


# --- rules ------------------------------------------------------------------------------------------


def list_rules(call: Call) -> ApiResponse:
    """Provider: every rule. Tenant: its own rules (editable) and the provider's (read-only)."""
    call.query(NoQuery)
    policy = call.store.load_policy()
    caller = call.caller
    rules: list[ShareRule | PushRule] = [*policy.share, *policy.push]
    visible = [rule for rule in rules if caller.provider or rule.tenant in (None, caller.tenant)]
    return ok(
        {
            "rules": [
                {
                    "kind": "share" if isinstance(rule, ShareRule) else "push",
                    "editable": caller.may_act_for(rule.tenant),
                    **rule.model_dump(mode="json"),
                }
                for rule in visible
            ]
        }
    )


def put_rules(call: Call) -> ApiResponse:
    """Upsert the document's rules by id (and, for the provider, its inventory), all or nothing."""
    document = checked_document(call)
    try:
        apply_document(call.store, document)
    except StateError as error:  # an id stored as a rule of the other kind
        raise ConflictError(str(error)) from None
    ids = [rule.id for rule in (*document.share, *document.push)]
    call.audit("rules", "stored", f"{len(ids)} rules stored", subject=", ".join(ids), target=owner(call))
    return ok({"stored": ids, **counts(document)})


def validate_rules(call: Call) -> ApiResponse:
    """The same checks as PUT (including the caller's permissions), without writing."""
    return ok({"valid": True, **counts(checked_document(call))})


def delete_rule(call: Call) -> ApiResponse:
    call.query(NoQuery)
    rule_id = call.request.route_params.get("rule_id", "")
    try:
        TypeAdapter(RuleId).validate_python(rule_id)
    except ValidationError:
        raise InvalidInputError("`rule_id`: not a rule id (letters, digits, `_`, `.`, `-`)") from None
    policy = call.store.load_policy()
    rule = next((rule for rule in (*policy.share, *policy.push) if rule.id == rule_id), None)
    # Another tenant's rule is as unknown to a tenant as one that does not exist; the provider's rules
    # are visible to every tenant (read-only), so refusing those discloses nothing.
    if rule is None or (rule.tenant is not None and not call.caller.may_act_for(rule.tenant)):
        raise NotFoundError(call.caller.unseen(f"rule `{rule_id}`", "does not exist"))
    call.caller.require(rule.tenant, f"rule `{rule_id}` of {rule.owner}")
    call.store.delete_rule(rule_id)
    call.audit(
        "rules", "removed", f"rule {rule_id} removed", subject=rule_id, target=owner(call), tenant=rule.tenant
    )
    return ok({"removed": rule_id})


def checked_document(call: Call) -> PolicyDocument:
    """The body as a policy document, validated against the store, and within the caller's rights."""
    call.query(NoQuery)
    try:
        text = call.request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("the policy document is not UTF-8 text") from None
    if not text.strip():
        raise InvalidInputError("the request body is empty: send a policy document (YAML or JSON)")
    # A tenant's document is checked against its own workspaces: another tenant's is as unknown to it
    # as one that does not exist (tenant ids stay known: audiences and from_tenants address them).
    try:
        document = parse_policy(
            text,
            source="request body",
            known_tenants=[tenant.id for tenant in call.store.list_tenants()],
            known_workspaces=call.store.list_workspaces(tenant=call.caller.tenant),
            known_ownership=call.store.load_policy().ownership,
        )
    except PolicyFileError as error:
        raise PolicyProblemsError(error.problems) from None
    if not call.caller.provider:
        policy = call.store.load_policy()
        check_tenant_document(call.caller, document, [*policy.share, *policy.push])
    return document


def check_tenant_document(
    caller: Caller, document: PolicyDocument, stored: Iterable[ShareRule | PushRule]
) -> None:
    """A tenant writes rules of its own tenant only, adds no inventory, and takes over no rule id."""
    if document.tenants or document.workspaces or document.registries or document.ownership:
        raise ForbiddenError("only the provider may write tenants, workspaces, registries or ownership")
    owners = {rule.id: rule for rule in stored}
    for rule in (*document.share, *document.push):
        if rule.tenant != caller.tenant:
            raise ForbiddenError(f"rule `{rule.id}` must name tenant `{caller.tenant}` as its tenant")
        existing = owners.get(rule.id)
        if existing is not None and existing.tenant is None:  # the provider's rules are visible to all
            raise ForbiddenError(f"rule id `{rule.id}` belongs to the provider")
        if existing is not None and existing.tenant != caller.tenant:
            # Rule ids are one namespace: that the id is taken is all a tenant learns, not by whom.
            raise ForbiddenError(f"rule id `{rule.id}` is not available: choose another id")


def owner(call: Call) -> str:
    return call.caller.tenant or "provider"


def counts(document: PolicyDocument) -> dict[str, int]:
    return {"share_rules": len(document.share), "push_rules": len(document.push)}


# --- the route table and the dispatcher -----------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    function_name: str  # the Functions name: explicit, unique, snake_case
    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str  # below /api/
    handler: Callable[[Call], ApiResponse]
    limited: bool = False  # expensive for RegSync and AzureML: tenant callers take a token first


ROUTES: tuple[Route, ...] = (
    Route("api_sync", "POST", "sync", sync, limited=True),
    Route("api_plan", "GET", "plan", plan, limited=True),
    Route("api_pull", "POST", "pull", pull, limited=True),
    Route("api_approve", "POST", "approve", approve),
    Route("api_status", "GET", "status", status),
    Route("api_audit", "GET", "audit", audit),
    Route("api_rules_list", "GET", "rules", list_rules),
    Route("api_rules_put", "PUT", "rules", put_rules),
    Route("api_rules_validate", "POST", "rules/validate", validate_rules),
    Route("api_rules_delete", "DELETE", "rules/{rule_id}", delete_rule),
)
_BY_KEY: dict[tuple[str, str], Route] = {(route.method, route.path): route for route in ROUTES}


def dispatch(
    request: ApiRequest,
    *,
    engine: Engine[StateStore],
    max_body_bytes: int,
    correlation_id: str,
    limiter: RateLimiter | None = None,
) -> ApiResponse:
    """Identify the caller, bound its rate and the body, run the route. Raises the errors the adapter
    maps."""
    route = _BY_KEY.get((request.method.upper(), request.route))
    if route is None:
        raise NotFoundError(f"there is no route {request.method.upper()} /api/{request.route}")
    caller = parse_principal(request.headers)
    if route.limited and limiter is not None and caller.tenant is not None:
        wait = limiter.take(caller.tenant)
        if wait > 0:  # refused before anything is read or written, and not audited (it is logged)
            raise RateLimitedError(
                f"tenant `{caller.tenant}` sent too many {route.path} requests; try again in "
                f"{math.ceil(wait)} s (settings REGSYNC_RATE_LIMIT_PER_MINUTE, REGSYNC_RATE_LIMIT_BURST)",
                retry_after=wait,
            )
    if len(request.body) > max_body_bytes:
        raise PayloadTooLargeError(
            f"the request body has {len(request.body)} bytes; the limit is {max_body_bytes} "
            "(setting REGSYNC_MAX_BODY_BYTES)"
        )
    return route.handler(Call(request, caller, engine, correlation_id))
