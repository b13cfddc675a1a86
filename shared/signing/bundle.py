"""DSSE envelopes in Sigstore bundles, as model-signing writes them for a key (not keyless) signature.

The bundle (media type `application/vnd.dev.sigstore.bundle.v0.3+json`) holds the public key's hint as
its verification material, no transparency-log entry (nothing is reachable from an isolated network),
and a DSSE envelope whose one signature is ECDSA over the envelope's PAE encoding
(https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shared.signing.keys import Signer, hint_of, verifies
from shared.signing.manifest import Manifest, manifest_from, statement_of

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_BUNDLE_BYTES = 16 * 1024 * 1024


class SignatureError(ValueError):
    """A bundle that is not well formed, or whose signature does not verify with any key offered."""


def pae(payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)


def sign_manifest(manifest: Manifest, signer: Signer) -> bytes:
    """The bundle (JSON bytes) signing `manifest`."""
    payload = json.dumps(statement_of(manifest), sort_keys=True, separators=(",", ":")).encode()
    signature = signer.sign(pae(payload))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint_of(signer.public_key_pem())}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }
    return json.dumps(bundle, indent=1).encode()


def digest_of(bundle: bytes) -> str:
    return hashlib.sha256(bundle).hexdigest()


@dataclass(frozen=True)
class Opened:
    manifest: Manifest
    key: str  # the public key (PEM) that verified it


def open_bundle(bundle: bytes, public_keys: list[str]) -> Opened:
    """The manifest `bundle` signs, if one of `public_keys` verifies it (SignatureError otherwise)."""
    if len(bundle) > MAX_BUNDLE_BYTES:
        raise SignatureError(f"the signature bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        document: Any = json.loads(bundle)
        envelope = document["dsseEnvelope"]
        if document.get("mediaType") != BUNDLE_MEDIA_TYPE or envelope["payloadType"] != PAYLOAD_TYPE:
            raise SignatureError("not a Sigstore bundle with an in-toto DSSE envelope")
        hint = str(document["verificationMaterial"]["publicKey"]["hint"])
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(item["sig"], validate=True) for item in envelope["signatures"]]
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        if isinstance(error, SignatureError):
            raise
        raise SignatureError(f"the signature bundle is malformed ({type(error).__name__})") from None
    candidates = [key for key in public_keys if hint_of(key) == hint]
    if not candidates:
        raise SignatureError(f"signed by an unknown key ({hint[:12]})")
    for key in candidates:
        if any(verifies(key, signature, pae(payload)) for signature in signatures):
            try:
                return Opened(manifest_from(json.loads(payload)), key)
            except ValueError as error:
                raise SignatureError(str(error)) from None
    raise SignatureError(f"the signature does not verify with key {hint[:12]}")
