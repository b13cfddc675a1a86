"""`verify`: who signed a registry model version, when, from which origin, and whether its bytes still
match; for the provider, or for a tenant about a version RegSync pushed (or is pushing) to one of its
own workspaces.

Who calls it: the API (`GET /api/verify`) and the CLI (`regsync verify`). The caller is checked as the
status route checks it (`workspace_for`); a version the tenant's workspace has no ledger row for is
"not found or not yours", like an unknown one. Verifying downloads the version's files (docs/provenance.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shared.auth import Caller
from shared.domain import AssetKind, AssetRef
from shared.engine.core import StoreT
from shared.engine.requests import Requests
from shared.errors import InvalidInputError, NotFoundError
from shared.records import push_target
from shared.signing.notary import SIGNATURE_INVALID, Verification


@dataclass(frozen=True)
class VerifyReport:
    asset: AssetRef
    registry: str
    verification: Verification  # its `origin` is the signed one: empty when nothing verified

    def as_dict(self) -> dict[str, object]:
        return {
            "asset": self.asset.model_dump(mode="json"),
            "registry": self.registry,
            **asdict(self.verification),
        }


class Verifies(Requests[StoreT]):
    def verify(self, ref: AssetRef, *, caller: Caller, workspace: str | None = None) -> VerifyReport:
        """Verify a registry model version's signature and bytes, as the caller may ask to."""
        if ref.kind is not AssetKind.MODEL:
            raise InvalidInputError(f"only models are signed; {ref} cannot be verified")
        world = self.world()
        unseen = NotFoundError(caller.unseen(f"{ref} in registry {world.registry.name}"))
        if workspace is not None:
            self.workspace_for(caller, workspace, world)
            if self.store.get_entry(ref.key, push_target(workspace)) is None:
                raise NotFoundError(caller.unseen(f"{ref} in workspace `{workspace}`"))
        elif not caller.provider:
            raise InvalidInputError("name the workspace of yours that holds the copy (`workspace`)")
        asset = self.gateway.get_registry_asset(world.registry, ref)
        if asset is None:
            raise unseen
        notary = self.applier.notary
        if notary is None:
            found = Verification(False, f"{SIGNATURE_INVALID}: this installation has no signing key")
        else:
            found = notary.verify_copy(world.registry, ref, asset.tags, check_bytes=True)
        return VerifyReport(ref, world.registry.name, found)
