"""Where the installation's signature bundles live: a blob container in RegSync's own storage account,
one blob per registry version (`KIND/NAME/VERSION/model.sig`), referenced by the copy's provenance tags.

Who calls it: shared.signing.notary; the adapter is shared.signing.blobs (imported on first use: the
Blob SDK is not loaded at cold start). Registry versions are immutable in content, so a bundle is
written once: a second share of the same version cannot replace the signature of the first (`put`
raises azure.core's ResourceExistsError). Nothing but RegSync writes this container (only its identity
has Storage Blob Data rights on it).
"""

from __future__ import annotations

from typing import Protocol

from shared.domain import AssetRef
from shared.signing.manifest import SIGNATURE_FILE


class SignatureStore(Protocol):
    def put(self, name: str, bundle: bytes) -> None: ...
    def get(self, name: str) -> bytes | None: ...


def bundle_name(ref: AssetRef) -> str:
    return f"{ref.kind.value}/{ref.name}/{ref.version}/{SIGNATURE_FILE}"
