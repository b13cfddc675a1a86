"""Where the operations run: the engine in-process (Table Storage, queues, AzureML) or the HTTP API.

Who calls it: the operation commands (plan, sync, pull, approve, status, audit) call `backend(cli)` and
then the same method whichever the mode; `backend` is the one place that picks. Both backends return the
structures the renderers take (SyncReply, Outcome, StatusView, AuditRecord), so what is printed is the
same code for both. Over HTTP the API decides what the caller may see and do (App Service principal,
function key); its refusals become one-line CLI errors. The key and the principal are sent as headers
and never printed.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from shared.audit_log import AuditPage
from shared.auth import Caller
from shared.cli.application import Application, CliError, unknown
from shared.cli.outcomes import Scope, SyncReply
from shared.domain import AssetKind, AssetRef, LedgerStatus
from shared.engine import SyncScope, new_correlation_id
from shared.entities import iso, parse_iso
from shared.planner.rollout import ROLLOUT_TARGET_PREFIX
from shared.records import AuditRecord, LedgerEntry, Outcome

ACTOR = "regsync-cli"
CLI_CALLER = Caller(name=ACTOR, provider=True)  # in-process, the CLI holds the provider's storage access
REGISTRY = "registry"
FUNCTION_KEY_HEADER = "x-functions-key"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
TIMEOUT = httpx.Timeout(300.0, connect=10.0)  # inline syncs of many workspaces take a while


@dataclass(frozen=True)
class StatusRow:
    """One ledger entry as status shows it: `target` is a workspace, or `registry` for the share."""

    asset: str  # kind:name:version, the ledger's asset key
    target: str
    status: LedgerStatus
    attempts: int
    message: str
    updated: str
    origin: str  # the workspace a share came from; empty for pushes

    @classmethod
    def of(cls, entry: LedgerEntry) -> StatusRow:
        origin = "" if entry.workspace else str(entry.detail.get("origin", ""))
        return cls(
            asset=entry.asset_key,
            target=entry.workspace or REGISTRY,
            status=entry.status,
            attempts=entry.attempts,
            message=entry.message,
            updated=iso(entry.updated),
            origin=origin,
        )

    @classmethod
    def from_api(cls, row: Mapping[str, Any]) -> StatusRow:
        """A row of `GET /api/status` (`workspace` is a share's origin or a push's target)."""
        asset = row["asset"]
        target = str(row["target"])
        return cls(
            asset=f"{asset['kind']}:{asset['name']}:{asset['version']}",
            target=target,
            status=LedgerStatus(row["state"]),
            attempts=int(row["attempts"]),
            message=str(row["message"]),
            updated=str(row["updated"]),
            origin=str(row["workspace"]) if target == REGISTRY else "",
        )

    @property
    def label(self) -> str:
        kind, _, rest = self.asset.partition(":")
        return f"{kind} {rest}"

    def as_json(self) -> dict[str, object]:
        kind, name, version = self.asset.split(":", 2)  # names and versions hold no ':'
        row = asdict(self)
        return {**row, "asset": {"kind": kind, "name": name, "version": version}, "status": self.status.value}


@dataclass(frozen=True)
class StatusView:
    rows: list[StatusRow]
    workspaces: set[str]  # the matrix's columns: every workspace in view, with rows or not


def in_view(rows: list[StatusRow], workspaces: set[str]) -> list[StatusRow]:
    """The rows of every asset that came from or went to one of `workspaces`, for those and the registry."""
    wanted = {row.asset for row in rows if row.target in workspaces or row.origin in workspaces}
    return [row for row in rows if row.asset in wanted and row.target in {REGISTRY, *workspaces}]


@dataclass(frozen=True)
class ApiTarget:
    """`--api`, `--key`, `--principal`: where the Function App is and how to present oneself to it."""

    url: str
    key: str | None = field(default=None, repr=False)
    principal: str | None = field(default=None, repr=False)


class Backend(Protocol):
    def reconcile(self, scope: Scope, *, dry_run: bool, concurrency: int | None) -> SyncReply: ...

    def pull(
        self, workspace: str, kind: AssetKind, name: str, version: str | None
    ) -> tuple[str, Outcome]: ...

    def approve(self, workspace: str, ref: AssetRef, approver: str | None) -> tuple[str, Outcome]: ...

    def recall(
        self, kind: AssetKind, name: str, version: str | None, *, reason: str, dry_run: bool
    ) -> tuple[str, list[Outcome]]: ...

    def drift(self, *, tenant: str | None, workspace: str | None, tags: bool) -> list[dict[str, Any]]: ...

    def status(self, *, tenant: str | None, workspace: str | None) -> StatusView: ...

    def audit(
        self, *, limit: int, day: datetime | None, tenant: str | None, after: str | None
    ) -> AuditPage: ...

    def verify(self, ref: AssetRef, workspace: str | None) -> dict[str, Any]:
        """The verification report as `GET /api/verify` answers it."""
        ...


def backend(cli: Application) -> Backend:
    """The one switch between the modes: the HTTP API when `--api` was given, else the engine."""
    return HttpBackend(cli.api) if cli.api is not None else EngineBackend(cli)


# --- in-process: the engine on Table Storage, the queues and AzureML --------------------------------------


class EngineBackend:
    """The engine's use cases, called as the provider would call them through the API."""

    def __init__(self, cli: Application) -> None:
        self.cli = cli

    def reconcile(self, scope: Scope, *, dry_run: bool, concurrency: int | None) -> SyncReply:
        request = SyncScope(scope.name, scope.tenant, scope.workspace, scope.asset, dry_run)
        result = self.cli.engine.sync(
            request, caller=CLI_CALLER, correlation_id=new_correlation_id(), concurrency=concurrency
        )
        return SyncReply(
            result.correlation_id, result.scope, result.dry_run, result.outcomes, result.scheduled
        )

    def pull(self, workspace: str, kind: AssetKind, name: str, version: str | None) -> tuple[str, Outcome]:
        cid = new_correlation_id()
        return cid, self.cli.engine.pull(
            workspace, kind, name, version, correlation_id=cid, caller=CLI_CALLER
        )

    def recall(
        self, kind: AssetKind, name: str, version: str | None, *, reason: str, dry_run: bool
    ) -> tuple[str, list[Outcome]]:
        cid = new_correlation_id()
        outcomes = self.cli.engine.recall(
            kind, name, version, reason=reason, correlation_id=cid, caller=CLI_CALLER, dry_run=dry_run
        )
        return cid, outcomes

    def drift(self, *, tenant: str | None, workspace: str | None, tags: bool) -> list[dict[str, Any]]:
        lines = self.cli.engine.drift(caller=CLI_CALLER, tenant=tenant, workspace=workspace, tags=tags)
        return [dict(line.as_dict()) for line in lines]

    def approve(self, workspace: str, ref: AssetRef, approver: str | None) -> tuple[str, Outcome]:
        cid = new_correlation_id()
        who = approver or f"{getpass.getuser()} (cli)"
        return cid, self.cli.engine.approve(
            workspace, ref, approver=who, correlation_id=cid, caller=CLI_CALLER
        )

    def status(self, *, tenant: str | None, workspace: str | None) -> StatusView:
        """Every asset that came from or went to one of the workspaces in view, for those and the registry."""
        cli = self.cli
        if workspace is not None and cli.read(lambda: cli.store.get_workspace(workspace), None) is None:
            raise unknown("workspace", workspace)
        if tenant is not None and cli.read(lambda: cli.store.get_tenant(tenant), None) is None:
            raise unknown("tenant", tenant)
        names = {item.name for item in cli.read_list(lambda: cli.store.list_workspaces(tenant=tenant))}
        names = names & {workspace} if workspace else names
        entries = cli.read_list(lambda: list(cli.store.list_ledger()))
        # A resumed rollout's marker row is not a target.
        rows = [
            StatusRow.of(entry) for entry in entries if not entry.target.startswith(ROLLOUT_TARGET_PREFIX)
        ]
        return StatusView(in_view(rows, names), names)

    def audit(self, *, limit: int, day: datetime | None, tenant: str | None, after: str | None) -> AuditPage:
        """The provider's day partition, or with `tenant` that tenant's own: one partition query."""
        store = self.cli.store
        return self.cli.read(
            lambda: store.audit_page(day=day, tenant=tenant, limit=limit, after=after), AuditPage([], None)
        )

    def verify(self, ref: AssetRef, workspace: str | None) -> dict[str, Any]:
        return self.cli.engine.verify(ref, caller=CLI_CALLER, workspace=workspace).as_dict()


# --- over HTTP: the Function App's API ------------------------------------------------------------------


class HttpBackend:
    """The same operations through `/api/...`; the API checks the caller and validates again."""

    def __init__(self, target: ApiTarget) -> None:
        self.target = target
        if not target.url.startswith(("http://", "https://")):
            raise CliError(f"`--api`: `{target.url}` is not an http(s) URL")
        self.base = target.url.rstrip("/").removesuffix("/api") + "/api/"

    def reconcile(self, scope: Scope, *, dry_run: bool, concurrency: int | None) -> SyncReply:
        if concurrency is not None:
            raise CliError("`--concurrency` applies in-process only; with `--api` the Function App decides")
        named = {
            key: value for key, value in (("tenant", scope.tenant), ("workspace", scope.workspace)) if value
        }
        if dry_run:
            asset = scope.asset.model_dump(mode="json") if scope.asset else {}
            body = self._call("GET", "plan", params={"scope": scope.name, **named, **asset})
        else:
            asset_body = {"asset": scope.asset.model_dump(mode="json")} if scope.asset else {}
            body = self._call("POST", "sync", json={"scope": scope.name, **named, **asset_body})
        return self._sync_reply(body)

    def pull(self, workspace: str, kind: AssetKind, name: str, version: str | None) -> tuple[str, Outcome]:
        request = {"workspace": workspace, "kind": kind.value, "name": name}
        body = self._call("POST", "pull", json={**request, **({"version": version} if version else {})})
        return str(body["correlation_id"]), Outcome.from_dict(body["outcome"])

    def recall(
        self, kind: AssetKind, name: str, version: str | None, *, reason: str, dry_run: bool
    ) -> tuple[str, list[Outcome]]:
        request = {"kind": kind.value, "name": name, "reason": reason, "dry_run": dry_run}
        body = self._call("POST", "recall", json={**request, **({"version": version} if version else {})})
        return str(body["correlation_id"]), [Outcome.from_dict(outcome) for outcome in body["outcomes"]]

    def drift(self, *, tenant: str | None, workspace: str | None, tags: bool) -> list[dict[str, Any]]:
        named = {key: value for key, value in (("tenant", tenant), ("workspace", workspace)) if value}
        body = self._call("GET", "drift", params={**named, "tags": "true" if tags else "false"})
        return [dict(line) for line in body["drift"]]

    def approve(self, workspace: str, ref: AssetRef, approver: str | None) -> tuple[str, Outcome]:
        if approver is not None:
            raise CliError("`--approver` applies in-process only; with `--api` the approver is the principal")
        request = {"workspace": workspace, "kind": ref.kind.value, "name": ref.name, "version": ref.version}
        body = self._call("POST", "approve", json=request)
        return str(body["correlation_id"]), Outcome.from_dict(body["outcome"])

    def status(self, *, tenant: str | None, workspace: str | None) -> StatusView:
        """The API names the workspaces in view (and checks the caller may see them); a filtered view then
        takes its rows from the caller's whole view, as in-process: the share of an asset pushed into the
        workspace came from elsewhere. (A tenant principal's whole view is its own tenant's rows.)"""
        params = {key: value for key, value in (("tenant", tenant), ("workspace", workspace)) if value}
        body = self._call("GET", "status", params=params)
        if params:
            body = {**self._call("GET", "status"), "workspaces": body["workspaces"]}
        rows = [StatusRow.from_api(row) for row in [*body["pushes"], *body["shares"]]]
        # The ledger's order (asset, then its row key: `push|{workspace}` before `share`), as in-process.
        rows.sort(key=lambda row: (row.asset, "share" if row.target == REGISTRY else f"push|{row.target}"))
        names = {str(name) for name in body["workspaces"]}
        return StatusView(in_view(rows, names), names)

    def audit(self, *, limit: int, day: datetime | None, tenant: str | None, after: str | None) -> AuditPage:
        """A tenant principal gets its own records whatever it asks; `tenant` is the provider's filter."""
        named = {"day": day.strftime("%Y%m%d") if day else None, "tenant": tenant, "continuation": after}
        params = {"limit": str(limit), **{key: value for key, value in named.items() if value}}
        body = self._call("GET", "audit", params=params)
        records = [
            AuditRecord(
                action=str(record["action"]),
                outcome=str(record["outcome"]),
                reason=str(record["reason"]),
                subject=str(record["subject"]),
                target=str(record["target"]),
                actor=str(record["actor"]),
                correlation_id=str(record["correlation_id"]),
                at=_moment(record["at"]),
                tenants=tuple(str(name) for name in record.get("tenants", [])),
            )
            for record in body["records"]
        ]
        continuation = body.get("continuation")
        return AuditPage(records, str(continuation) if continuation else None)

    def verify(self, ref: AssetRef, workspace: str | None) -> dict[str, Any]:
        params = {"name": ref.name, "version": ref.version, **({"workspace": workspace} if workspace else {})}
        return dict(self._call("GET", "verify", params=params))

    # -- the one request path ---------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> Any:
        headers = {"Accept": "application/json"}
        if self.target.key:
            headers[FUNCTION_KEY_HEADER] = self.target.key
        if self.target.principal:
            headers[PRINCIPAL_HEADER] = self.target.principal
        try:
            with httpx.Client(timeout=TIMEOUT) as client:
                response = client.request(method, self.base + path, params=params, json=json, headers=headers)
        except httpx.HTTPError as error:  # connection refused, timeout, ...: never echoes the headers
            reason = str(error) or type(error).__name__
            raise CliError(f"the API at `{self.base}` cannot be reached: {reason}") from None
        if response.status_code >= 400:
            raise self._refusal(response)
        try:
            return response.json()
        except ValueError:
            raise CliError(f"the API answered {method} /api/{path} with something that is not JSON") from None

    def _refusal(self, response: httpx.Response) -> CliError:
        """The API's own one-sentence message, with what to do about it where the CLI knows."""
        status = response.status_code
        message = _error_message(response)
        if status == 401 and message is None:  # the host refused before the app ran: the function key
            if not self.target.key:
                return CliError("the API wants a function key: pass `--key` or set REGSYNC_FUNCTION_KEY")
            return CliError("the API refused the function key (HTTP 401): check `--key`/REGSYNC_FUNCTION_KEY")
        text = message or f"the API answered HTTP {status}"
        if status == 401 and not self.target.principal:
            text += "; pass `--principal` or set REGSYNC_PRINCIPAL"
        if status == 503:
            retry = response.headers.get("Retry-After", "").strip()
            return CliError(f"{text}; try again in {retry} s (HTTP 503)" if retry else f"{text} (HTTP 503)")
        return CliError(f"{text} (HTTP {status})")

    @staticmethod
    def _sync_reply(body: Mapping[str, Any]) -> SyncReply:
        scheduled = body.get("scheduled")
        return SyncReply(
            correlation_id=str(body["correlation_id"]),
            scope=str(body["scope"]),
            dry_run=bool(body["dry_run"]),
            outcomes=[Outcome.from_dict(outcome) for outcome in body.get("outcomes", [])],
            scheduled=int(scheduled) if scheduled is not None else None,
        )


def _error_message(response: httpx.Response) -> str | None:
    """`error.message` of the API's error body, or None when the body is not one (e.g. the host's 401)."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message) if message else None


def _moment(text: Any) -> datetime:
    moment = parse_iso(str(text))
    if moment is None:
        raise CliError("the API answered an audit record without a time")
    return moment
