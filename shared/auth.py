"""Who is calling the HTTP API: App Service Authentication's `X-MS-CLIENT-PRINCIPAL` header, parsed.

Who calls it: shared.api, once per request. Pure: no I/O. App Service Authentication (Easy Auth)
validates the caller's token, strips any client-sent `X-MS-*` headers, and passes the identity on as
base64 JSON `{auth_typ, name_typ, role_typ, claims: [{typ, val}]}`. RegSync trusts that header only
because the platform sets it; the app must run with authentication required (docs/api.md).

The authorisation model, in two roles (app roles of the Entra ID app registration):
- `regsync.provider`: acts for every tenant.
- `regsync.tenant`: acts for the one tenant named by the caller's `regsync_tenant` claim (an optional
  claim or a directory extension mapped to that name). Exactly one such claim is required; a role
  without it, or with several, is refused, so a misconfigured identity never acts for nobody-knows-whom.
Both roles: the provider role wins. Neither: authenticated, but not allowed (403).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain import TENANT_ID_PATTERN

PRINCIPAL_HEADER = "x-ms-client-principal"
PROVIDER_ROLE = "regsync.provider"
TENANT_ROLE = "regsync.tenant"
TENANT_CLAIM = "regsync_tenant"
DEFAULT_ROLE_TYPE = "roles"
DEFAULT_NAME_TYPE = "name"
MAX_HEADER_CHARS = 16_384  # App Service's principals are a few KB; anything larger is not one
_TENANT_ID = re.compile(TENANT_ID_PATTERN)
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class UnauthenticatedError(Exception):
    """No usable principal: the header is missing or not what App Service sends (HTTP 401)."""


class ForbiddenError(Exception):
    """The caller is known but may not do this (HTTP 403). The message names what was refused."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the provider (tenant None) or one tenant."""

    name: str
    provider: bool
    tenant: str | None = None

    def may_act_for(self, tenant: str | None) -> bool:
        """True for the provider; for a tenant caller, only for its own tenant (never for 'no tenant')."""
        return self.provider or (tenant is not None and tenant == self.tenant)

    def require(self, tenant: str | None, what: str) -> None:
        """Raise ForbiddenError unless the caller may act for `tenant`; `what` names the thing refused."""
        if not self.may_act_for(tenant):
            raise ForbiddenError(f"{self.describe()} may not act on {what}")

    def unseen(self, what: str, missing: str = "is unknown") -> str:
        """The one answer about a thing that does not exist or, for a tenant caller, is not its own:
        a tenant cannot tell the two apart (nor learn what other tenants have)."""
        return f"{what} {missing}" if self.provider else f"{what} not found or not yours"

    def require_provider(self, what: str) -> None:
        if not self.provider:
            raise ForbiddenError(f"only the provider role may {what}")

    def describe(self) -> str:
        return "the provider" if self.provider else f"tenant `{self.tenant}`"


def parse_principal(headers: Mapping[str, str]) -> Caller:
    """The caller the principal header names; UnauthenticatedError or ForbiddenError, with a reason.

    Header names are matched case-insensitively; the header's contents never appear in a message.
    """
    raw = next((value for key, value in headers.items() if key.lower() == PRINCIPAL_HEADER), None)
    if not raw:
        raise UnauthenticatedError(
            "no X-MS-CLIENT-PRINCIPAL header: sign in through App Service Authentication"
        )
    principal = _decode(raw)
    role_type = _text(principal.get("role_typ")) or DEFAULT_ROLE_TYPE
    name_type = _text(principal.get("name_typ")) or DEFAULT_NAME_TYPE
    claims = _claims(principal.get("claims"))
    roles = {value for typ, value in claims if typ == role_type}
    name = _printable(next((value for typ, value in claims if typ == name_type), "")) or "unnamed caller"
    if PROVIDER_ROLE in roles:
        return Caller(name=name, provider=True)
    if TENANT_ROLE not in roles:
        raise ForbiddenError(f"the caller has neither the `{PROVIDER_ROLE}` nor the `{TENANT_ROLE}` role")
    tenants = {value for typ, value in claims if typ == TENANT_CLAIM}
    if len(tenants) != 1:
        raise ForbiddenError(f"a `{TENANT_ROLE}` caller needs exactly one `{TENANT_CLAIM}` claim")
    tenant = tenants.pop()
    if not _TENANT_ID.match(tenant):
        raise ForbiddenError(f"the `{TENANT_CLAIM}` claim is not a valid tenant id")
    return Caller(name=name, provider=False, tenant=tenant)


def _decode(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_HEADER_CHARS:
        raise UnauthenticatedError("the X-MS-CLIENT-PRINCIPAL header is too large to be a principal")
    try:
        data = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):  # ValueError covers bad UTF-8 and bad JSON
        raise UnauthenticatedError("the X-MS-CLIENT-PRINCIPAL header is not base64-encoded JSON") from None
    if not isinstance(data, dict):
        raise UnauthenticatedError("the X-MS-CLIENT-PRINCIPAL header is not a JSON object")
    return data


def _claims(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise UnauthenticatedError("the X-MS-CLIENT-PRINCIPAL header has no claims list")
    # Claims that are not {typ: str, val: str} are skipped, never guessed at.
    return [
        (item["typ"], item["val"])
        for item in value
        if isinstance(item, dict) and isinstance(item.get("typ"), str) and isinstance(item.get("val"), str)
    ]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _printable(name: str) -> str:
    """The caller's name as it may appear in audit records and logs: printable ASCII, 128 chars."""
    return _UNPRINTABLE.sub("?", name)[:128]
