"""Where the installation's signature bundles live: a blob container in RegSync's own storage account,
one blob per registry version (`KIND/NAME/VERSION/model.sig`), referenced by the copy's provenance tags.

Who calls it: shared.signing.notary. Registry versions are immutable in content, so a bundle is written
once (if-none-match): a second share of the same version cannot replace the signature of the first.
Nothing but RegSync writes this container (only its identity has Storage Blob Data rights on it).
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.domain import AssetRef
from shared.settings import Settings
from shared.signing.manifest import SIGNATURE_FILE


class SignatureStore(Protocol):
    def put(self, name: str, bundle: bytes) -> None: ...
    def get(self, name: str) -> bytes | None: ...


def bundle_name(ref: AssetRef) -> str:
    return f"{ref.kind.value}/{ref.name}/{ref.version}/{SIGNATURE_FILE}"


class BlobSignatureStore:
    def __init__(self, container: ContainerClient) -> None:
        self.container = container

    @classmethod
    def from_settings(cls, settings: Settings) -> BlobSignatureStore:
        settings.require_storage()
        if settings.storage_connection_string:
            container = ContainerClient.from_connection_string(
                settings.storage_connection_string, settings.signature_container
            )
        else:
            from azure.identity import DefaultAzureCredential

            url = f"https://{settings.storage_account_name}.blob.core.windows.net"
            container = ContainerClient(
                url, settings.signature_container, credential=DefaultAzureCredential()
            )
        return cls(container)

    def ensure(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()

    def put(self, name: str, bundle: bytes) -> None:
        """Write once: an existing bundle is kept (ResourceExistsError is the caller's to judge)."""
        self.container.upload_blob(name, bundle, overwrite=False)

    def get(self, name: str) -> bytes | None:
        try:
            return self.container.download_blob(name).readall()
        except ResourceNotFoundError:
            return None
