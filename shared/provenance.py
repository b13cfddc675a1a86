"""Provenance: the tags RegSync stamps on what it creates, and reading them back. Pure, no I/O.

Who uses it: the planner (to tell our own registry versions from someone else's and to build the tags
a share stamps), the AzureML adapter (a workspace copy names its registry source) and the status views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.domain import Asset, Workspace

TAG_PREFIX = "regsync."
TAG_TENANT = "regsync.origin.tenant"
TAG_WORKSPACE = "regsync.origin.workspace"
TAG_NAME = "regsync.origin.name"
TAG_VERSION = "regsync.origin.version"
TAG_JOB = "regsync.origin.job"
TAG_RULE = "regsync.rule"
TAG_CORRELATION = "regsync.correlation"
TAG_REGISTRY_ID = "regsync.registry.asset"


def provenance_tags(
    source: Asset, origin: Workspace, *, rule_id: str | None, correlation_id: str
) -> dict[str, str]:
    """Tags stamped on what RegSync creates, so anyone can trace it back to where it came from."""
    tags = {
        TAG_TENANT: origin.tenant,
        TAG_WORKSPACE: origin.name,
        TAG_NAME: source.ref.name,
        TAG_VERSION: source.ref.version,
        TAG_RULE: rule_id or "",
        TAG_CORRELATION: correlation_id,
    }
    if source.job_name:
        tags[TAG_JOB] = source.job_name
    return tags


def carried_tags(registry_tags: Mapping[str, str], correlation_id: str) -> dict[str, str]:
    """The provenance a push carries into a workspace: the registry version's, with this correlation."""
    return {
        **{key: value for key, value in registry_tags.items() if key.startswith(TAG_PREFIX)},
        TAG_CORRELATION: correlation_id,
    }


@dataclass(frozen=True)
class Origin:
    """Where a registry asset came from, read back from its provenance tags."""

    workspace: str
    name: str
    version: str


def origin_of(tags: Mapping[str, str]) -> Origin | None:
    if not all(tags.get(key) for key in (TAG_WORKSPACE, TAG_NAME, TAG_VERSION)):
        return None
    return Origin(tags[TAG_WORKSPACE], tags[TAG_NAME], tags[TAG_VERSION])


def registry_copy(source: Asset) -> str | None:
    """Why `source` must not be shared, if it is RegSync's own copy of a registry asset (else None)."""
    registry_id = source.tags.get(TAG_REGISTRY_ID)
    if not registry_id:
        return None
    return f"{source.ref} is RegSync's copy of {registry_id}; copies are never shared back"


# Signed provenance (shared.signing, docs/provenance.md): where the installation's bundle of a registry
# model version is, its digest, the digest of the manifest it signs, when, with which key, and which
# publisher's `model.sig` the share verified.
TAG_SIGNATURE = "regsync.signature"
TAG_SIGNATURE_DIGEST = "regsync.signature.digest"
TAG_MANIFEST_DIGEST = "regsync.manifest.digest"
TAG_SIGNED_AT = "regsync.signature.time"
TAG_SIGNING_KEY = "regsync.signature.key"
TAG_PUBLISHER = "regsync.signature.publisher"
TAG_UNSIGNED = "regsync.signature.missing"  # why a shared model is unsigned: its files were not found
