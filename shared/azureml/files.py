"""A model version's files, downloaded through the SDK (`models.download`) to hash them.

Who calls it: shared.signing.notary (sign a registry copy, verify it, read a publisher's `model.sig`).
A registry download asks the registry for the version and a SAS of its own storage (two AzureML
requests), then lists and reads the blobs; a workspace download reads the datastore the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from azure.core.exceptions import HttpResponseError

from shared.azureml.gateway import AzureMLGateway
from shared.azureml.sdk import classified
from shared.domain import AssetRef, Registry, Workspace
from shared.errors import NotFoundError


class ModelFiles:
    def __init__(self, gateway: AzureMLGateway) -> None:
        self._gateway = gateway

    def registry_model(self, registry: Registry, ref: AssetRef, into: Path) -> Path:
        """Download the registry version's files under `into`; returns the model's root (folder or file).
        NotFoundError when its files are not there."""
        client = self._gateway.registry_client(registry)
        with _files_of(f"{ref} in registry {registry.name}"):
            client.models.download(name=ref.name, version=ref.version, download_path=str(into))
        return _root(into / ref.name)

    def workspace_model(self, workspace: Workspace, ref: AssetRef, into: Path) -> Path:
        client = self._gateway.workspace_client(workspace)
        with _files_of(f"{ref} in {workspace.name}"):
            client.models.download(name=ref.name, version=ref.version, download_path=str(into))
        return _root(into / ref.name)


@contextmanager
def _files_of(what: str) -> Iterator[None]:
    with classified(f"downloading {what}"):
        try:
            yield
        except HttpResponseError as error:
            if error.status_code != 404:
                raise
            raise NotFoundError(f"the files of {what} were not found ({error.reason or 404})") from error


def _root(downloaded: Path) -> Path:
    """The SDK writes a folder model to `NAME/FOLDER/...` and a one-file model to `NAME/FILE`."""
    entries = list(downloaded.iterdir()) if downloaded.is_dir() else []
    return entries[0] if len(entries) == 1 else downloaded
