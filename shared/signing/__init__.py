"""Signed provenance: a model's manifest (SHA-256 per file), signed as an in-toto statement in a DSSE
envelope inside a Sigstore bundle, the layout OpenSSF model-signing writes for its elliptic-key signer.

Modules: `manifest` (files -> manifest -> statement, pure), `bundle` (DSSE sign and open), `keys` (the
Signer port, a key file and public keys), `keyvault` (the Signer on an Azure Key Vault key), `store`
(where the installation's bundles live) and `blobs` (that store on Blob Storage), `notary` (sign a
share, verify a registry copy, verify a publisher's `model.sig`). docs/provenance.md is the trust model.
"""
