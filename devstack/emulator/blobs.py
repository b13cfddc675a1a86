"""The little Blob Storage the SDK needs for uploads: workspace datastores and registry temp data refs.

Mounted by app.py under `/blob/{account}/{container}/...` for workspace storage, and path-style at the root
(`/{container}/...`, REGISTRY_ROUTES) for the registries' storage (no auth: the SDK signs with an account
key or a SAS, which are not checked). Supports what azure-storage-blob does on an asset upload: HEAD/GET (with
Range), PUT of a whole blob, Put Block / Put Block List, Set Metadata and List Blobs (with prefix and
delimiter). Contents live in memory in `State.blobs`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from devstack.emulator.state import REGISTRY_CONTAINER, REGISTRY_STORAGE, ArmError

if TYPE_CHECKING:
    from devstack.emulator.emulator import Emulator

Handler = Callable[[Request, "Emulator"], Awaitable[Response]]
VERSION = "2021-08-06"
staged: dict[str, dict[str, bytes]] = {}


def blob_key(request: Request) -> str:
    p = request.path_params
    return f"{p.get('account', REGISTRY_STORAGE)}/{p['container']}/{p.get('blob', '')}"


def common_headers() -> dict[str, str]:
    return {"x-ms-version": VERSION, "x-ms-request-id": "emulator", "Date": http_date()}


def http_date() -> str:
    return dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def blob_headers(data: bytes, meta: dict[str, str]) -> dict[str, str]:
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    headers = common_headers() | {
        "Content-Length": str(len(data)),
        "Content-Type": "application/octet-stream",
        "Content-MD5": md5,
        "ETag": f'"0x{hashlib.sha1(data, usedforsecurity=False).hexdigest()[:16].upper()}"',
        "Last-Modified": http_date(),
        "x-ms-blob-type": "BlockBlob",
        "x-ms-creation-time": http_date(),
        "Accept-Ranges": "bytes",
    }
    return headers | {f"x-ms-meta-{k}": v for k, v in meta.items()}


def write_headers(data: bytes) -> dict[str, str]:
    """Headers of a write reply: no Content-Length of the blob, since the reply has no body."""
    return {k: v for k, v in blob_headers(data, {}).items() if k not in ("Content-Length", "Content-Type")}


def not_found() -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code>'
        "<Message>The specified blob does not exist.</Message></Error>"
    )
    return Response(
        body,
        404,
        headers=common_headers() | {"x-ms-error-code": "BlobNotFound"},
        media_type="application/xml",
    )


def metadata_from(request: Request) -> dict[str, str]:
    return {
        k[len("x-ms-meta-") :]: v for k, v in request.headers.items() if k.lower().startswith("x-ms-meta-")
    }


async def blob_read(request: Request, emu: Emulator) -> Response:
    found = emu.state.blobs.get(blob_key(request))
    if found is None:
        return not_found()
    data, meta = found
    headers = blob_headers(data, meta)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers)
    return ranged(request, data, headers)


def ranged(request: Request, data: bytes, headers: dict[str, str]) -> Response:
    spec = request.headers.get("x-ms-range") or request.headers.get("range")
    if not spec or not spec.startswith("bytes="):
        return Response(data, 200, headers=headers)
    first, _, last = spec.removeprefix("bytes=").partition("-")
    start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
    headers |= {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Content-Length": str(end - start + 1)}
    return Response(data[start : end + 1], 206, headers=headers)


def already_exists() -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobAlreadyExists</Code>'
        "<Message>The specified blob already exists.</Message></Error>"
    )
    headers = common_headers() | {"x-ms-error-code": "BlobAlreadyExists"}
    return Response(body, 409, headers=headers, media_type="application/xml")


async def blob_write(request: Request, emu: Emulator) -> Response:
    key, comp = blob_key(request), request.query_params.get("comp")
    body = await request.body()
    if comp in (None, "blocklist") and request.headers.get("if-none-match") == "*" and key in emu.state.blobs:
        return already_exists()  # Put Blob / Put Block List with If-None-Match: * on an existing blob
    if comp == "block":
        staged.setdefault(key, {})[request.query_params["blockid"]] = body
    elif comp == "blocklist":
        blocks = staged.pop(key, {})
        ids = [part.split("<", 1)[0] for part in body.decode().split("<Latest>")[1:]]
        emu.state.blobs[key] = (b"".join(blocks.get(i, b"") for i in ids), metadata_from(request))
    elif comp == "metadata":
        data, _ = emu.state.blobs.get(key, (b"", {}))
        emu.state.blobs[key] = (data, metadata_from(request))
        return Response(status_code=200, headers=write_headers(data))
    else:
        emu.state.blobs[key] = (body, metadata_from(request))
    data = emu.state.blobs.get(key, (body, {}))[0]
    return Response(status_code=201, headers=write_headers(data) | {"x-ms-request-server-encrypted": "true"})


async def blob_delete(request: Request, emu: Emulator) -> Response:
    if emu.state.blobs.pop(blob_key(request), None) is None:
        return not_found()
    return Response(status_code=202, headers=common_headers())


async def container_op(request: Request, emu: Emulator) -> Response:
    """List Blobs (GET ?comp=list), container properties (HEAD/GET) and create (PUT)."""
    if request.method == "PUT":
        return Response(status_code=201, headers=common_headers())
    if request.query_params.get("comp") != "list":
        return Response(status_code=200, headers=common_headers())
    prefix = f"{request.path_params.get('account', REGISTRY_STORAGE)}/{request.path_params['container']}/"
    names = sorted(k[len(prefix) :] for k in emu.state.blobs if k.startswith(prefix))
    xml = listing_xml(request, emu, prefix, names)
    return Response(xml, 200, headers=common_headers(), media_type="application/xml")


def listing_xml(request: Request, emu: Emulator, prefix: str, names: list[str]) -> str:
    want, delim = request.query_params.get("prefix", ""), request.query_params.get("delimiter")
    blobs_xml, prefixes = [], set()
    for name in (n for n in names if n.startswith(want)):
        rest = name[len(want) :]
        if delim and delim in rest:
            prefixes.add(want + rest.split(delim, 1)[0] + delim)
            continue
        data, meta = emu.state.blobs[prefix + name]
        blobs_xml.append(blob_xml(name, data, meta))
    prefix_xml = "".join(f"<BlobPrefix><Name>{escape(p)}</Name></BlobPrefix>" for p in sorted(prefixes))
    return (
        '<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="'
        f'{escape(emu.base_url)}/blob/" ContainerName="{escape(request.path_params["container"])}">'
        f"<Prefix>{escape(want)}</Prefix><Blobs>{''.join(blobs_xml)}{prefix_xml}</Blobs>"
        "<NextMarker /></EnumerationResults>"
    )


def blob_xml(name: str, data: bytes, meta: dict[str, Any]) -> str:
    meta_xml = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in meta.items())
    return (
        f"<Blob><Name>{escape(name)}</Name><Properties><Last-Modified>{http_date()}</Last-Modified>"
        f"<Etag>0x1</Etag><Content-Length>{len(data)}</Content-Length><Content-Type>application/octet-stream"
        f"</Content-Type><BlobType>BlockBlob</BlobType></Properties><Metadata>{meta_xml}</Metadata></Blob>"
    )


ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/blob/{account}/{container}", container_op, ["GET", "HEAD", "PUT"]),
    ("/blob/{account}/{container}/{blob:path}", blob_read, ["GET", "HEAD"]),
    ("/blob/{account}/{container}/{blob:path}", blob_write, ["PUT"]),
    ("/blob/{account}/{container}/{blob:path}", blob_delete, ["DELETE"]),
]


def registry_storage(handler: Handler) -> Handler:
    """A root-level route serves only registry containers; any other path is the emulator's 404."""

    async def serve(request: Request, emu: Emulator) -> Response:
        if not REGISTRY_CONTAINER.match(str(request.path_params["container"])):
            raise ArmError(
                404, "NoSuchRoute", f"The emulator has no route for {request.method} {request.url.path}"
            )
        return await handler(request, emu)

    return serve


REGISTRY_ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/{container}", registry_storage(container_op), ["GET", "HEAD", "PUT"]),
    ("/{container}/{blob:path}", registry_storage(blob_read), ["GET", "HEAD"]),
    ("/{container}/{blob:path}", registry_storage(blob_write), ["PUT"]),
    ("/{container}/{blob:path}", registry_storage(blob_delete), ["DELETE"]),
]
