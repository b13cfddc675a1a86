"""`regsync sign` (a publisher signs its model folder) and `regsync verify` (who signed a registry model
version, when, from which origin, and whether its bytes still match). docs/provenance.md.

`sign` runs on the publisher's machine, with its own key, and touches no RegSync state: it writes
`model.sig` into the folder, which a share rule with `require_signature: tenant` reads. `verify` is an
operation (in-process as the provider, or `--api` as the principal); an invalid verification prints its
reason and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shared.cli.application import CliError, application, checked
from shared.cli.backend import backend
from shared.domain import AssetKind, AssetName, AssetRef, AssetVersion, WorkspaceName
from shared.signing.keys import BadKeyError, FileKeySigner, hint_of
from shared.signing.manifest import ManifestError
from shared.signing.notary import sign_folder


def sign(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The model's folder, as it will be registered.")],
    key_file: Annotated[
        Path,
        typer.Option("--key-file", help="Your ECDSA P-256 private key (PEM, e.g. `openssl ecparam`)."),
    ],
) -> None:
    """Sign a model folder with your key: writes FOLDER/model.sig over every other file in it."""
    try:
        signer = FileKeySigner(key_file)
        written = sign_folder(folder, signer)
    except (BadKeyError, ManifestError, OSError) as error:
        raise CliError(f"cannot sign `{folder.name}`: {error}") from None
    cli = application(ctx)
    hint = hint_of(signer.public_key_pem())[:16]
    if cli.json_output:
        cli.emit_json({"signature": str(written), "key": hint})
    else:
        cli.emit_line(f"signed {folder.name} with key {hint}: {written.name}")


def verify(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="NAME:VERSION of the registry model.")],
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", help="Your workspace that holds the copy (a tenant principal must name it)."
        ),
    ] = None,
) -> None:
    """Verify a registry model version: its signature, its origin, and whether its bytes still match."""
    cli = application(ctx)
    name, _, version = asset.rpartition(":")
    if not name or not version:
        raise CliError(f"`{asset}`: give the registry model as NAME:VERSION")
    ref = AssetRef(
        kind=AssetKind.MODEL,
        name=checked("name", AssetName, name),
        version=checked("version", AssetVersion, version),
    )
    if workspace is not None:
        checked("workspace", WorkspaceName, workspace)
    report = backend(cli).verify(ref, workspace)
    if cli.json_output:
        cli.emit_json(report)
    else:
        for line in _lines(report):
            cli.emit_line(line)
    if not report["valid"]:
        raise typer.Exit(code=1)


def _lines(report: dict[str, Any]) -> list[str]:
    asset, origin = report["asset"], report["origin"]
    what = f"model {asset['name']}:{asset['version']} in registry {report['registry']}"
    lines = [f"{what}: {'valid' if report['valid'] else 'INVALID'}", f"  {report['reason']}"]
    if origin.get("workspace"):
        lines.append(
            f"  origin: {origin['workspace']} (tenant {origin['tenant']}), "
            f"{origin['name']}:{origin['version']}"
        )
    if report["signed_by"]:
        lines.append(
            f"  signed by the installation key {report['signed_by']} at {report['signed_at'] or '?'}"
        )
    if report["publisher"]:
        lines.append(f"  publisher signature: {report['publisher']}")
    lines.append(f"  bytes checked: {'yes' if report['bytes_checked'] else 'no'}")
    return lines
