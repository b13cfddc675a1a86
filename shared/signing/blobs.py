"""The signature store on Blob Storage: RegSync's own account, container `REGSYNC_SIGNATURE_CONTAINER`
(shared.signing.store says what lives there). The only module of shared/signing/ that imports the Blob
SDK.
"""

from __future__ import annotations

import contextlib

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.settings import Settings


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
