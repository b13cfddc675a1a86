"""The notary: signs a model as it is shared, and verifies a registry copy against that signature.

Who calls it: shared.engine.apply (sign at share, the publisher's signature when a share rule requires
it, verify before a push) and the `verify` use case (API and CLI). Only models are signed: they are the
assets whose files are deployed.

Sign: hash the origin workspace's model files (the bytes the registry copy is made of), sign the
manifest with the installation's key, write the bundle once to RegSync's own storage and return the
provenance tags that name it, its digest and the manifest's digest (stamped with the share's tags, so a
share makes no extra AzureML write). Verify: the tags name a bundle whose digest they state; the bundle
verifies with the installation's key; then, when asked for, the registry copy's bytes are downloaded
and hashed against the signed manifest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from azure.core.exceptions import ResourceExistsError

from shared.domain import AssetRef, Registry, Workspace
from shared.errors import NotFoundError, RefusedError
from shared.provenance import (
    TAG_JOB,
    TAG_MANIFEST_DIGEST,
    TAG_NAME,
    TAG_PUBLISHER,
    TAG_SIGNATURE,
    TAG_SIGNATURE_DIGEST,
    TAG_SIGNED_AT,
    TAG_SIGNING_KEY,
    TAG_TENANT,
    TAG_UNSIGNED,
    TAG_VERSION,
    TAG_WORKSPACE,
)
from shared.signing.bundle import SignatureError, digest_of, open_bundle, sign_manifest
from shared.signing.keys import Signer, hint_of
from shared.signing.manifest import SIGNATURE_FILE, Manifest, ManifestError, manifest_of
from shared.signing.store import SignatureStore, bundle_name

SIGNATURE_INVALID = "signature invalid"
# The provenance a share signs with the files (the rule and the correlation are not: they say how, not
# what or from where, and the rule may be renamed).
SIGNED_PROVENANCE = (TAG_TENANT, TAG_WORKSPACE, TAG_NAME, TAG_VERSION, TAG_JOB)


class ModelFiles(Protocol):
    def registry_model(self, registry: Registry, ref: AssetRef, into: Path) -> Path: ...
    def workspace_model(self, workspace: Workspace, ref: AssetRef, into: Path) -> Path: ...


@dataclass(frozen=True)
class Verification:
    """What a verification of a registry copy found; `valid` is False with the reason otherwise."""

    valid: bool
    reason: str
    signed_by: str = ""  # the installation key's hint (first 16 hex digits)
    signed_at: str = ""
    publisher: str = ""  # the tenant whose own signature the share verified, if any
    files: int = 0  # how many files the signed manifest lists
    bytes_checked: bool = False  # whether the copy's bytes were downloaded and hashed
    origin: dict[str, str] = field(default_factory=dict)  # tenant, workspace, name, version, job: signed


@dataclass
class Notary:
    signer: Signer
    store: SignatureStore
    files: ModelFiles

    def sign_share(
        self,
        origin: Workspace,
        source: AssetRef,
        destination: AssetRef,
        provenance: Mapping[str, str],
        *,
        now: datetime,
        publisher: str = "",
    ) -> dict[str, str]:
        """Sign the model's files as the origin holds them, with the origin `provenance` (tags) as
        claims; the tags to stamp on the registry copy."""
        with tempfile.TemporaryDirectory(prefix="regsync-sign-") as folder:
            root = self.files.workspace_model(origin, source, Path(folder))
            manifest = _manifest(root, destination.name)
        if not manifest.files:  # its files were not found: a signature of nothing vouches for nothing
            raise NotFoundError(f"the files of {source} in {origin.name} were not found")
        claims = {key: provenance[key] for key in SIGNED_PROVENANCE if provenance.get(key)}
        claims[TAG_SIGNED_AT] = now.isoformat(timespec="seconds")
        if publisher:
            claims[TAG_PUBLISHER] = publisher
        manifest = replace(manifest, claims=tuple(sorted(claims.items())))
        name = bundle_name(destination)
        bundle = sign_manifest(manifest, self.signer)
        try:
            self.store.put(name, bundle)
        except ResourceExistsError:  # a share cut short signed it already: keep that bundle if it agrees
            bundle, manifest = self._existing(name, manifest)
        signed = dict(manifest.claims)
        return {
            TAG_SIGNATURE: name,
            TAG_SIGNATURE_DIGEST: digest_of(bundle),
            TAG_MANIFEST_DIGEST: manifest.digest,
            TAG_SIGNING_KEY: hint_of(self.signer.public_key_pem())[:16],
            **{key: signed[key] for key in (TAG_SIGNED_AT, TAG_PUBLISHER) if key in signed},
        }

    def _existing(self, name: str, manifest: Manifest) -> tuple[bytes, Manifest]:
        bundle = self.store.get(name) or b""
        try:
            signed = open_bundle(bundle, [self.signer.public_key_pem()]).manifest
        except SignatureError as error:
            raise RefusedError(f"{name} holds a signature that does not verify: {error}") from None
        if signed.files != manifest.files:
            raise RefusedError(f"{name} already signs other files; registry versions are immutable")
        return bundle, signed

    def verify_publisher(self, origin: Workspace, ref: AssetRef, keys: Mapping[str, list[str]]) -> str:
        """The tenant whose key signed the model's `model.sig` over exactly its files (`keys`: tenant ->
        public keys); RefusedError with the reason if it is unsigned, signed by no such key, or changed."""
        with tempfile.TemporaryDirectory(prefix="regsync-publisher-") as folder:
            root = self.files.workspace_model(origin, ref, Path(folder))
            signature = root / SIGNATURE_FILE
            if not root.is_dir() or not signature.is_file():
                raise RefusedError(f"{ref} in {origin.name} is not signed: it has no {SIGNATURE_FILE}")
            found = _manifest(root, ref.name)
            bundle = signature.read_bytes()
        try:
            opened = open_bundle(bundle, [key for tenant_keys in keys.values() for key in tenant_keys])
        except SignatureError as error:
            raise RefusedError(f"{ref} in {origin.name}: {SIGNATURE_INVALID}: {error}") from None
        changes = opened.manifest.differences(found)
        if changes:
            raise RefusedError(
                f"{ref} in {origin.name}: {SIGNATURE_INVALID}: its files differ from what "
                f"{SIGNATURE_FILE} signs ({_listed(changes)})"
            )
        return next(tenant for tenant, tenant_keys in keys.items() if opened.key in tenant_keys)

    def verify_copy(
        self, registry: Registry, ref: AssetRef, tags: Mapping[str, str], *, check_bytes: bool
    ) -> Verification:
        """Verify a registry model version (its provenance `tags`) against the installation's signature."""
        name, stated = tags.get(TAG_SIGNATURE), tags.get(TAG_SIGNATURE_DIGEST)
        if not name or not stated:
            why = tags.get(TAG_UNSIGNED) or f"no {TAG_SIGNATURE} tag"
            return Verification(False, f"{SIGNATURE_INVALID}: {ref} is unsigned ({why})")
        if name != bundle_name(ref):
            return Verification(False, f"{SIGNATURE_INVALID}: {ref}'s tag names another version's bundle")
        bundle = self.store.get(name)
        if bundle is None:
            return Verification(False, f"{SIGNATURE_INVALID}: the signature bundle of {ref} is missing")
        if digest_of(bundle) != stated:
            return Verification(False, f"{SIGNATURE_INVALID}: {ref}'s bundle is not the one its tags name")
        try:
            manifest = open_bundle(bundle, [self.signer.public_key_pem()]).manifest
        except SignatureError as error:
            return Verification(False, f"{SIGNATURE_INVALID}: {error}")
        claims = dict(manifest.claims)
        signed = Verification(
            True,
            f"{ref} is signed by the installation key over {len(manifest.files)} file(s)",
            signed_by=hint_of(self.signer.public_key_pem())[:16],
            signed_at=claims.get(TAG_SIGNED_AT, ""),
            publisher=claims.get(TAG_PUBLISHER, ""),
            files=len(manifest.files),
            origin={key.rsplit(".", 1)[-1]: claims[key] for key in SIGNED_PROVENANCE if key in claims},
        )
        if tags.get(TAG_MANIFEST_DIGEST) != manifest.digest:
            return _invalid(signed, f"{ref}'s manifest digest tag is not the signed manifest's", False)
        edited = [key for key in SIGNED_PROVENANCE if key in claims and tags.get(key) != claims[key]]
        if edited:
            return _invalid(
                signed, f"{ref}'s provenance tags differ from the signed ones ({', '.join(edited)})", False
            )
        if not check_bytes:
            return signed
        with tempfile.TemporaryDirectory(prefix="regsync-verify-") as folder:
            found = _manifest(self.files.registry_model(registry, ref, Path(folder)), ref.name)
        changes = manifest.differences(found)
        if changes:
            return _invalid(
                signed,
                f"the bytes of {ref} in registry {registry.name} changed after the share "
                f"({_listed(changes)})",
                True,
            )
        return replace(
            signed, reason=f"{signed.reason}; its {len(found.files)} file(s) match", bytes_checked=True
        )


def _invalid(found: Verification, reason: str, bytes_checked: bool) -> Verification:
    return replace(found, valid=False, reason=f"{SIGNATURE_INVALID}: {reason}", bytes_checked=bytes_checked)


def _manifest(root: Path, name: str) -> Manifest:
    try:
        return manifest_of(root, name)
    except ManifestError as error:
        raise RefusedError(f"{name} cannot be signed: {error}") from None


def _listed(changes: list[str], most: int = 5) -> str:
    shown = ", ".join(changes[:most])
    return shown if len(changes) <= most else f"{shown} and {len(changes) - most} more"


def sign_folder(folder: Path, signer: Signer) -> Path:
    """A publisher's own signature of its model folder: `model.sig` inside it, over every other file
    (`regsync sign`); a share rule with `require_signature: tenant` reads it. Returns its path."""
    if not folder.is_dir():
        raise ManifestError(f"{folder.name} is not a folder: sign the model's folder")
    bundle = sign_manifest(manifest_of(folder, folder.name), signer)
    target = folder / SIGNATURE_FILE
    target.write_bytes(bundle)
    return target
