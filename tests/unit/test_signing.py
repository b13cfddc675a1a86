"""The manifest, the DSSE bundle and the keys (shared/signing/): model-signing's format, pure."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from devstack.private_files import write_private
from shared.signing.bundle import SignatureError, digest_of, open_bundle, pae, sign_manifest
from shared.signing.keys import BadKeyError, FileKeySigner, hint_of, new_private_key_pem, normalised_pem
from shared.signing.manifest import Manifest, ManifestError, manifest_from, manifest_of, statement_of
from shared.signing.notary import sign_folder


@pytest.fixture
def signer(tmp_path: Path) -> FileKeySigner:
    path = tmp_path / "key.pem"
    write_private(path, new_private_key_pem())
    return FileKeySigner(path)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00" * 10)
    (folder / "sub" / "config.json").write_text("{}", encoding="utf-8")
    return folder


def test_the_manifest_lists_every_file_but_model_sig_in_canonical_order(model: Path) -> None:
    (model / "model.sig").write_bytes(b"an older signature")
    manifest = manifest_of(model, "model")
    assert [path for path, _ in manifest.files] == ["sub/config.json", "weights.bin"]
    # model-signing's subject digest: SHA-256 over the file digests in that order.

    expected = hashlib.sha256(b"".join(bytes.fromhex(digest) for _, digest in manifest.files)).hexdigest()
    assert manifest.digest == expected


def test_a_symbolic_link_is_refused(model: Path, tmp_path: Path) -> None:
    (model / "link").symlink_to(tmp_path)
    with pytest.raises(ManifestError, match="symbolic link"):
        manifest_of(model, "model")


def test_the_statement_is_model_signings_v1_payload(model: Path) -> None:
    statement = statement_of(manifest_of(model, "model"))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    assert statement["predicate"]["serialization"]["method"] == "files"
    assert [r["name"] for r in statement["predicate"]["resources"]] == ["sub/config.json", "weights.bin"]
    assert manifest_from(statement) == manifest_of(model, "model")


def test_a_statement_whose_subject_digest_does_not_add_up_is_refused(model: Path) -> None:
    statement = statement_of(manifest_of(model, "model"))
    statement["predicate"]["resources"][0]["digest"] = "00" * 32
    with pytest.raises(ManifestError, match="not the digest of its files"):
        manifest_from(statement)


def test_a_bundle_opens_with_its_key_and_says_what_it_signs(model: Path, signer: FileKeySigner) -> None:
    manifest = manifest_of(model, "model")
    bundle = sign_manifest(manifest, signer)
    document = json.loads(bundle)
    assert document["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert document["verificationMaterial"] == {
        "publicKey": {"hint": hint_of(signer.public_key_pem())},
        "tlogEntries": [],
    }
    opened = open_bundle(bundle, [signer.public_key_pem()])
    assert opened.manifest == manifest and opened.key == signer.public_key_pem()
    assert len(digest_of(bundle)) == 64


def test_the_signature_covers_the_dsse_pae_of_the_payload(model: Path, signer: FileKeySigner) -> None:
    from shared.signing.keys import verifies

    envelope = json.loads(sign_manifest(manifest_of(model, "model"), signer))["dsseEnvelope"]
    payload, signature = (
        base64.b64decode(envelope["payload"]),
        base64.b64decode(envelope["signatures"][0]["sig"]),
    )
    assert pae(payload).startswith(b"DSSEv1 28 application/vnd.in-toto+json ")
    assert verifies(signer.public_key_pem(), signature, pae(payload))
    assert not verifies(signer.public_key_pem(), signature, payload)


def test_another_key_or_a_changed_payload_does_not_open(
    model: Path, signer: FileKeySigner, tmp_path: Path
) -> None:
    bundle = sign_manifest(manifest_of(model, "model"), signer)
    other = tmp_path / "other.pem"
    write_private(other, new_private_key_pem())
    with pytest.raises(SignatureError, match="unknown key"):
        open_bundle(bundle, [FileKeySigner(other).public_key_pem()])
    document = json.loads(bundle)
    statement = json.loads(base64.b64decode(document["dsseEnvelope"]["payload"]))
    statement["subject"][0]["name"] = "another"
    document["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(SignatureError, match="does not verify"):
        open_bundle(json.dumps(document).encode(), [signer.public_key_pem()])


@pytest.mark.parametrize("bundle", [b"", b"[]", b'{"dsseEnvelope": {}}', b"not json"])
def test_a_malformed_bundle_is_refused_with_a_reason(bundle: bytes, signer: FileKeySigner) -> None:
    with pytest.raises(SignatureError):
        open_bundle(bundle, [signer.public_key_pem()])


def test_sign_folder_writes_model_sig_that_the_folder_verifies_against(
    model: Path, signer: FileKeySigner
) -> None:
    written = sign_folder(model, signer)
    assert written == model / "model.sig"
    opened = open_bundle(written.read_bytes(), [signer.public_key_pem()])
    assert opened.manifest.files == manifest_of(model, "model").files  # model.sig itself is not in it


def test_only_p256_public_keys_are_accepted(signer: FileKeySigner) -> None:
    pem = signer.public_key_pem()
    assert normalised_pem(pem.replace("\n", "\r\n")) == pem
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    p384 = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(BadKeyError, match="P-256"):
        normalised_pem(p384)
    with pytest.raises(BadKeyError):
        normalised_pem("not a key")


def test_an_unreadable_key_file_names_the_file_not_its_content(tmp_path: Path) -> None:
    path = tmp_path / "broken.pem"
    write_private(path, "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n")
    with pytest.raises(BadKeyError) as raised:
        FileKeySigner(path)
    assert "broken.pem" in str(raised.value) and "secret" not in str(raised.value)


def test_differences_name_changed_missing_and_added_files() -> None:
    signed = Manifest("m", (("a", "00" * 32), ("b", "11" * 32)))
    found = Manifest("m", (("a", "22" * 32), ("c", "33" * 32)))
    assert signed.differences(found) == ["a changed", "b missing", "c added"]


# A model signed by OpenSSF model-signing 1.1.1 itself (`model_signing sign key MODEL --signature
# MODEL/model.sig --private_key KEY`; fixtures/model-signing, its public key beside it): RegSync reads the
# publisher's signature as model-signing wrote it, ignored paths (.gitignore, ...) included.
MODEL_SIGNING = Path(__file__).parent / "fixtures" / "model-signing"


def test_a_signature_made_by_model_signing_opens_and_matches_its_folder() -> None:
    public_key = (MODEL_SIGNING / "public-key.pem").read_text(encoding="utf-8")
    opened = open_bundle((MODEL_SIGNING / "model" / "model.sig").read_bytes(), [normalised_pem(public_key)])
    assert [path for path, _ in opened.manifest.files] == ["MLmodel", "sub/weights.txt"]
    assert ".gitignore" in opened.manifest.ignored
    found = manifest_of(MODEL_SIGNING / "model", "model")
    assert [path for path, _ in found.files] == [".gitignore", "MLmodel", "sub/weights.txt"]
    assert opened.manifest.differences(found) == []  # .gitignore is left out, as its signer said


def test_a_file_changed_after_model_signing_signed_is_found(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(MODEL_SIGNING / "model", folder)
    (folder / "sub" / "weights.txt").write_text("other weights\n", encoding="utf-8")
    public_key = normalised_pem((MODEL_SIGNING / "public-key.pem").read_text(encoding="utf-8"))
    opened = open_bundle((folder / "model.sig").read_bytes(), [public_key])
    assert opened.manifest.differences(manifest_of(folder, "model")) == ["sub/weights.txt changed"]


def test_a_tenants_signing_key_is_read_from_the_policy_file_and_a_bad_one_is_refused_by_line(
    signer: FileKeySigner,
) -> None:
    from shared.policy_file import PolicyFileError, parse_policy

    indented = "\n".join(f"        {line}" for line in signer.public_key_pem().splitlines())
    text = f"tenants:\n  - id: contoso\n    signing_keys:\n      - |\n{indented}\n"
    [tenant] = parse_policy(text, source="policy.yaml").tenants
    assert tenant.signing_keys == (signer.public_key_pem(),)
    with pytest.raises(PolicyFileError) as raised:
        parse_policy("tenants:\n  - id: contoso\n    signing_keys: [not a key]\n", source="policy.yaml")
    [problem] = raised.value.problems
    assert problem.line == 3 and "not a PEM public key" in problem.message
