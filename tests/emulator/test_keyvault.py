"""The emulator's Key Vault keys (devstack/emulator/keyvault.py) through the real azure-keyvault-keys, and
RegSync's Key Vault signer on it (shared/signing/keyvault.py): the installation key in Azure.

Fidelity: the Key Vault REST reference (learn.microsoft.com/rest/api/keyvault/keys/create-key, get-key,
sign, verify) and "Authentication in Azure Key Vault" (a request without a token is answered 401 with a
`WWW-Authenticate: Bearer authorization=..., resource=...` challenge, which the SDK then answers).
"""

from __future__ import annotations

import hashlib
import ssl
import uuid

import httpx
import pytest

from devstack.emulator.launch import RunningEmulator
from shared.signing.bundle import open_bundle, sign_manifest
from shared.signing.keys import verifies
from shared.signing.keyvault import KeyVaultSigner
from shared.signing.manifest import Manifest
from tests.emulator.conftest import StaticCredential

# A loopback vault is no subdomain of vault.azure.net, which the SDK checks a challenge's resource against.
LOOPBACK = {"verify_challenge_resource": False}


@pytest.fixture
def key_id(emulator: RunningEmulator) -> str:
    from azure.keyvault.keys import KeyClient

    client = KeyClient(emulator.base_url, StaticCredential(), **LOOPBACK)
    key = client.create_ec_key(f"signing-{uuid.uuid4().hex[:8]}", curve="P-256", hardware_protected=True)
    assert key.key_type == "EC-HSM" and key.key.crv == "P-256"
    return str(key.id)


def test_a_request_without_a_token_gets_key_vaults_challenge(emulator: RunningEmulator, key_id: str) -> None:
    verify = ssl.create_default_context(cafile=emulator.env["REQUESTS_CA_BUNDLE"])
    reply = httpx.get(key_id, params={"api-version": "7.5"}, verify=verify)
    assert reply.status_code == 401
    assert 'resource="https://vault.azure.net"' in reply.headers["WWW-Authenticate"]


def test_key_vault_signs_a_digest_and_verifies_it(key_id: str) -> None:
    from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm

    client = CryptographyClient(key_id, StaticCredential(), **LOOPBACK)
    digest = hashlib.sha256(b"model manifest").digest()
    signed = client.sign(SignatureAlgorithm.es256, digest)
    assert signed.key_id == key_id and len(signed.signature) == 64  # JWS: r || s
    assert client.verify(SignatureAlgorithm.es256, digest, signed.signature).is_valid
    other = hashlib.sha256(b"another manifest").digest()
    assert not client.verify(SignatureAlgorithm.es256, other, signed.signature).is_valid


def test_the_key_vault_signer_writes_bundles_its_public_key_opens(key_id: str) -> None:
    signer = KeyVaultSigner(key_id, StaticCredential(), **LOOPBACK)
    signature = signer.sign(b"payload")
    assert verifies(signer.public_key_pem(), signature, b"payload")  # DER, from Key Vault's r || s
    manifest = Manifest("model", (("model.pkl", "00" * 32),))
    opened = open_bundle(sign_manifest(manifest, signer), [signer.public_key_pem()])
    assert opened.manifest.files == manifest.files


def test_an_unknown_key_is_key_not_found(emulator: RunningEmulator, key_id: str) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    missing = key_id.rsplit("/", 2)[0] + "/no-such-key/" + "0" * 32
    with pytest.raises(ResourceNotFoundError):
        KeyVaultSigner(missing, StaticCredential(), **LOOPBACK)
