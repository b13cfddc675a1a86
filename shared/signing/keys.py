"""Keys: the Signer port, the installation's key file (local), and the public keys that verify.

Keys are ECDSA P-256 with SHA-256 (ES256), the curve model-signing's key signer and Key Vault's EC-HSM
keys share. A key is named by its hint: the SHA-256 of its public key's PEM (SubjectPublicKeyInfo), as
model-signing writes into the bundle's `verificationMaterial.publicKey.hint`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class BadKeyError(ValueError):
    """A key that cannot be read or is not an ECDSA P-256 key."""


class Signer(Protocol):
    """Signs with a private key that may never leave where it lives (a file, Key Vault)."""

    def public_key_pem(self) -> str: ...
    def sign(self, data: bytes) -> bytes:
        """An ECDSA P-256/SHA-256 signature of `data`, DER encoded."""
        ...


def hint_of(public_key_pem: str) -> str:
    return hashlib.sha256(public_key_pem.encode()).hexdigest()


def public_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as error:
        raise BadKeyError(f"not a PEM public key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise BadKeyError("only ECDSA P-256 public keys are supported")
    return key


def normalised_pem(pem: str) -> str:
    """The PEM as this code writes it, so a key's hint does not depend on its line endings."""
    return (
        public_key(pem)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def verifies(public_key_pem: str, signature: bytes, data: bytes) -> bool:
    try:
        public_key(public_key_pem).verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


class FileKeySigner:
    """A PEM private key in a file only its owner can read (the local stack's installation key, or a
    publisher's key for `regsync sign`)."""

    def __init__(self, path: Path) -> None:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise BadKeyError(f"cannot read the private key {path.name}: {type(error).__name__}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise BadKeyError(f"{path.name} is not an ECDSA P-256 private key")
        self._key = key

    def public_key_pem(self) -> str:
        public = self._key.public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))


def new_private_key_pem() -> bytes:
    """A new P-256 private key (PKCS#8 PEM, unencrypted): the caller writes it 0600 (the local stack)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
