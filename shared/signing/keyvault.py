"""The installation's key in Azure Key Vault: signing happens in Key Vault (the private key never leaves
it), through the app's managed identity with the `Key Vault Crypto User` role.

Key Vault's Sign operation takes the SHA-256 digest for ES256 and answers the JWS form of the
signature, r || s (learn.microsoft.com/rest/api/keyvault/keys/sign/sign and "About keys": "ES256 -
ECDSA for SHA-256 digests and keys created with curve P-256"); bundles carry DER, as model-signing's
verifier (cryptography) expects, so it is re-encoded here. The key version is pinned when the signer is
built, so the public key in bundles and the key that signs cannot drift apart during a rotation.
"""

from __future__ import annotations

import hashlib
from typing import Any

from azure.keyvault.keys import KeyClient, KeyVaultKeyIdentifier
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from shared.signing.keys import BadKeyError


class KeyVaultSigner:
    def __init__(self, key_id: str, credential: Any, **client_options: Any) -> None:
        """`client_options` go to the SDK's clients (the emulator's tests pass
        `verify_challenge_resource=False`: a loopback vault is no subdomain of vault.azure.net)."""
        identifier = KeyVaultKeyIdentifier(key_id)
        keys = KeyClient(identifier.vault_url, credential, **client_options)
        key = keys.get_key(identifier.name, identifier.version)
        jwk: Any = key.key  # a JsonWebKey: its fields are set from the key's JSON
        if jwk.crv != "P-256" or not jwk.x or not jwk.y:
            raise BadKeyError(f"Key Vault key {identifier.name} is not an EC P-256 key")
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"), ec.SECP256R1()
        )
        self._pem = (
            numbers.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self._client = CryptographyClient(str(key.id), credential, **client_options)

    def public_key_pem(self) -> str:
        return self._pem

    def sign(self, data: bytes) -> bytes:
        signature = self._client.sign(SignatureAlgorithm.es256, hashlib.sha256(data).digest()).signature
        half = len(signature) // 2
        return encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        )
