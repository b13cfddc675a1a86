"""A model version's files, downloaded through the SDK (`models.download`) to hash them.

Who calls it: shared.signing.notary (sign a registry copy, verify it, read a publisher's `model.sig`).
A registry download asks the registry for the version and a SAS of its own storage (two AzureML
requests), then lists and reads the blobs; a workspace download reads the datastore the same way.
"""

from __future__ import annotations

from pathlib import Path

from shared.azureml.gateway import AzureMLGateway
from shared.azureml.sdk import classified
from shared.domain import AssetRef, Registry, Workspace


class ModelFiles:
    def __init__(self, gateway: AzureMLGateway) -> None:
        self._gateway = gateway

    def registry_model(self, registry: Registry, ref: AssetRef, into: Path) -> Path:
        """Download the registry version's files under `into`; returns the model's root (folder or file)."""
        client = self._gateway.registry_client(registry)
        with classified(f"downloading {ref} from registry {registry.name}"):
            client.models.download(name=ref.name, version=ref.version, download_path=str(into))
        return _root(into / ref.name)

    def workspace_model(self, workspace: Workspace, ref: AssetRef, into: Path) -> Path:
        client = self._gateway.workspace_client(workspace)
        with classified(f"downloading {ref} from {workspace.name}"):
            client.models.download(name=ref.name, version=ref.version, download_path=str(into))
        return _root(into / ref.name)


def _root(downloaded: Path) -> Path:
    """The SDK writes a folder model to `NAME/FOLDER/...` and a one-file model to `NAME/FILE`."""
    entries = list(downloaded.iterdir()) if downloaded.is_dir() else []
    return entries[0] if len(entries) == 1 else downloaded
