"""Signatures in apply: what a share signs (and the publisher's signature it checks first), and the
verification a push makes before it acts. Raises or returns the reason; apply turns it into the row.

Who calls it: shared.engine.apply. The notary (shared.signing.notary) is None when the installation has
no signing key: nothing is signed then, and a push verifies only if its rule says `verify_signature:
true` explicitly (it is refused: there is nothing to verify against).
"""

from __future__ import annotations

import logging

from shared.domain import AssetKind
from shared.errors import NotFoundError, RefusedError
from shared.ports import Clock, Inventory
from shared.provenance import TAG_UNSIGNED
from shared.signing.notary import SIGNATURE_INVALID, Notary
from shared.steps import Push, Share

log = logging.getLogger("regsync.signing")


def signature_tags(notary: Notary | None, inventory: Inventory, step: Share, clock: Clock) -> dict[str, str]:
    """The signature tags a share stamps with its provenance ({} when nothing is signed); RefusedError
    when the share rule requires the publisher's signature and it is missing or does not verify."""
    tenant = step.origin.tenant
    if step.require_signature and step.destination.kind is not AssetKind.MODEL:
        raise RefusedError(f"the share rule requires a signature of tenant {tenant}; only models are signed")
    if step.require_signature and notary is None:
        raise RefusedError("the share rule requires a signature, and this installation has no signing key")
    if notary is None or step.destination.kind is not AssetKind.MODEL:
        return {}
    publisher = ""
    if step.require_signature == "tenant":
        found = inventory.get_tenant(tenant)
        keys = list(found.signing_keys) if found is not None else []
        if not keys:
            raise RefusedError(
                f"the share rule requires a signature of tenant {tenant}, which has registered no signing key"
            )
        publisher = notary.verify_publisher(step.origin, step.source.ref, {tenant: keys})
    try:
        return notary.sign_share(
            step.origin, step.source.ref, step.destination, step.tags, now=clock(), publisher=publisher
        )
    except NotFoundError as error:
        # Nothing to sign (AzureML always has a model's files; the emulator has none for a job's output):
        # shared unsigned, saying why; a push that verifies refuses it, as any unsigned copy.
        log.warning("%s is shared unsigned: %s", step.destination, error)
        return {TAG_UNSIGNED: str(error)[:250]}


def push_refusal(notary: Notary | None, step: Push) -> str | None:
    """Why the push must not go ahead: the registry copy's signature or bytes do not verify."""
    if not step.verify or (notary is None and step.action.verify_signature is not True):
        return None
    if notary is None:
        return (
            f"{SIGNATURE_INVALID}: the rule requires a verified signature and this installation signs nothing"
        )
    verification = notary.verify_copy(step.registry, step.message.ref, step.tags, check_bytes=True)
    return None if verification.valid else verification.reason
