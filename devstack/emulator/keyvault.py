"""A small Key Vault keys data plane on the emulator's host: create, get, sign and verify EC P-256 keys,
enough for azure-keyvault-keys' KeyClient and CryptographyClient (RegSync's installation key in Azure).

Taken from the Key Vault REST reference (learn.microsoft.com/rest/api/keyvault/keys/): `POST
{vault}/keys/{name}/create` (create-key), `GET {vault}/keys/{name}[/{version}]` (get-key), `POST
{vault}/keys/{name}/{version}/sign` with `{alg, value}` -> `{kid, value}` (sign: "Creates a signature
from a digest"), `POST .../verify` with `{alg, digest, value}` -> `{value: bool}`; values are base64url
without padding, an ES256 signature is the JWS form r || s. Authentication is Key Vault's challenge
("Authentication in Azure Key Vault"): a request without a bearer token gets 401 with `WWW-Authenticate:
Bearer authorization=..., resource="https://vault.azure.net"`, which the SDK answers with a token (any
token is accepted here). Keys live in memory; private keys never leave this module, as in Key Vault.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from devstack.emulator.emulator import Emulator

EC_TYPES = {"EC", "EC-HSM"}


@dataclass
class Vault:
    keys: dict[str, list[tuple[str, ec.EllipticCurvePrivateKey, str]]] = field(default_factory=dict)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kv_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _challenged(request: Request, emu: Emulator) -> Response | None:
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        challenge = (
            f'Bearer authorization="https://login.microsoftonline.com/{emu.tenant_id}", '
            'resource="https://vault.azure.net"'
        )
        return Response(status_code=401, headers={"WWW-Authenticate": challenge})
    if not request.query_params.get("api-version"):
        return kv_error(400, "BadParameter", "The 'api-version' query parameter is required")
    return None


def _bundle(
    emu: Emulator, name: str, version: str, key: ec.EllipticCurvePrivateKey, kty: str
) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "key": {
            "kid": f"{emu.base_url}/keys/{name}/{version}",
            "kty": kty,
            "key_ops": ["sign", "verify"],
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        },
        "attributes": {"enabled": True, "created": int(time.time()), "updated": int(time.time())},
    }


def _find(emu: Emulator, request: Request) -> tuple[str, str, ec.EllipticCurvePrivateKey, str] | Response:
    name = request.path_params["name"]
    version = request.path_params.get("version", "")
    versions = emu.vault.keys.get(name, [])
    found = [item for item in versions if item[0] == version] if version else versions[-1:]
    if not found:
        return kv_error(
            404, "KeyNotFound", f"A key with (name/id) {name}/{version} was not found in this key vault."
        )
    return name, *found[0]


async def create_key(request: Request, emu: Emulator) -> Response:
    if (refused := _challenged(request, emu)) is not None:
        return refused
    body = await request.json()
    kty, crv = body.get("kty"), body.get("crv", "P-256")
    if kty not in EC_TYPES or crv != "P-256":
        return kv_error(400, "BadParameter", f"only EC/EC-HSM keys on P-256 are emulated, not {kty} {crv}")
    version = uuid.uuid4().hex
    key = ec.generate_private_key(ec.SECP256R1())
    emu.vault.keys.setdefault(request.path_params["name"], []).append((version, key, kty))
    return JSONResponse(_bundle(emu, request.path_params["name"], version, key, kty))


async def get_key(request: Request, emu: Emulator) -> Response:
    if (refused := _challenged(request, emu)) is not None:
        return refused
    found = _find(emu, request)
    if isinstance(found, Response):
        return found
    name, version, key, kty = found
    return JSONResponse(_bundle(emu, name, version, key, kty))


async def _operation(request: Request, emu: Emulator) -> tuple[Any, dict[str, Any]] | Response:
    if (refused := _challenged(request, emu)) is not None:
        return refused
    found = _find(emu, request)
    if isinstance(found, Response):
        return found
    body = await request.json()
    if body.get("alg") != "ES256":
        return kv_error(400, "BadParameter", f"only ES256 is emulated, not {body.get('alg')}")
    return found, body


async def sign(request: Request, emu: Emulator) -> Response:
    found = await _operation(request, emu)
    if isinstance(found, Response):
        return found
    (name, version, key, _), body = found
    try:
        digest = unb64url(str(body["value"]))
    except (KeyError, binascii.Error, ValueError):
        return kv_error(400, "BadParameter", "value must be a base64url digest")
    if len(digest) != 32:
        return kv_error(400, "BadParameter", "ES256 signs a SHA-256 digest (32 bytes)")
    r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
    kid = f"{emu.base_url}/keys/{name}/{version}"
    return JSONResponse({"kid": kid, "value": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))})


async def verify(request: Request, emu: Emulator) -> Response:
    found = await _operation(request, emu)
    if isinstance(found, Response):
        return found
    (_, _, key, _), body = found
    try:
        digest, signature = unb64url(str(body["digest"])), unb64url(str(body["value"]))
    except (KeyError, binascii.Error, ValueError):
        return kv_error(400, "BadParameter", "digest and value must be base64url")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.public_key().verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return JSONResponse({"value": False})
    return JSONResponse({"value": True})


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/keys/{name}/create", create_key, ["POST"]),
    ("/keys/{name}/{version}/sign", sign, ["POST"]),
    ("/keys/{name}/{version}/verify", verify, ["POST"]),
    ("/keys/{name}/{version}", get_key, ["GET"]),
    ("/keys/{name}", get_key, ["GET"]),
]
