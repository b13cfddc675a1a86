"""A model's manifest and the in-toto statement that carries it. Pure (reads local files only).

The statement is model-signing's v1.0 payload (predicate type `https://model_signing/signature/v1.0`):
one subject, the model's name with the SHA-256 over every file digest in canonical (sorted path) order,
and the files as `resources` (path, algorithm, digest), with the `files` serialization that says how
they were hashed. `model.sig` (where a publisher's own signature lives) is never part of the manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIGNATURE_FILE = "model.sig"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
CLAIMS = "regsync"
_SERIALIZATION = {"method": "files", "hash_type": "sha256", "allow_symlinks": False}
_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A statement that is not a model manifest, or one whose digests do not add up."""


@dataclass(frozen=True)
class Manifest:
    name: str
    files: tuple[tuple[str, str], ...]  # (POSIX path relative to the model's root, SHA-256 hex), sorted
    # Paths the signer left out (files, or folders and all below): `model.sig`, and what model-signing
    # leaves out by default (.git, .gitattributes, ...) when a publisher signs with it.
    ignored: tuple[str, ...] = (SIGNATURE_FILE,)
    # What the signer states besides the files (RegSync: the origin it copied them from, when, and whose
    # publisher signature it checked), as the predicate's `regsync` field: model-signing's verifiers
    # ignore fields they do not know, so the bundle stays theirs to verify.
    claims: tuple[tuple[str, str], ...] = ()

    @property
    def digest(self) -> str:
        """The subject digest: SHA-256 over the file digests in canonical order (model-signing's)."""
        hasher = hashlib.sha256()
        for _, digest in self.files:
            hasher.update(bytes.fromhex(digest))
        return hasher.hexdigest()

    def differences(self, other: Manifest) -> list[str]:
        """What changed from `self` (signed) to `other` (found): files changed, missing or added (but
        not the files the signer left out)."""
        signed = dict(self.files)
        found = {path: digest for path, digest in other.files if not self.leaves_out(path)}
        changed = [path for path in signed if path in found and found[path] != signed[path]]
        missing = [path for path in signed if path not in found]
        added = [path for path in found if path not in signed]
        return (
            [f"{path} changed" for path in changed]
            + [f"{path} missing" for path in missing]
            + [f"{path} added" for path in added]
        )

    def leaves_out(self, path: str) -> bool:
        return any(path == ignored or path.startswith(f"{ignored}/") for ignored in self.ignored)


def manifest_of(root: Path, name: str) -> Manifest:
    """Hash every regular file under `root` (or `root` itself, a one-file model); symlinks are refused
    (they could point anywhere) and `model.sig` is left out."""
    if root.is_symlink():
        raise ManifestError(f"{root} is a symbolic link; a model's files are hashed as they are")
    if root.is_file():
        return Manifest(name, ((root.name, _sha256(root)),))
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise ManifestError(f"{relative} is a symbolic link; a model's files are hashed as they are")
        if path.is_file() and relative != SIGNATURE_FILE:
            files.append((relative, _sha256(path)))
    return Manifest(name, tuple(sorted(files)))


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def statement_of(manifest: Manifest) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.name, "digest": {"sha256": manifest.digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {**_SERIALIZATION, "ignore_paths": list(manifest.ignored)},
            "resources": [
                {"name": path, "algorithm": "sha256", "digest": digest} for path, digest in manifest.files
            ],
            **({CLAIMS: dict(manifest.claims)} if manifest.claims else {}),
        },
    }


def manifest_from(statement: dict[str, Any]) -> Manifest:
    """The manifest a (verified) statement signs, checked like model-signing checks it: one subject
    whose digest is the digest of the resources."""
    try:
        if statement["_type"] != STATEMENT_TYPE or statement["predicateType"] != PREDICATE_TYPE:
            raise ManifestError(f"not a model-signing v1.0 statement ({statement.get('predicateType')})")
        (subject,) = statement["subject"]
        files = tuple(
            sorted((str(item["name"]), str(item["digest"])) for item in statement["predicate"]["resources"])
        )
        predicate = statement["predicate"]
        ignored = tuple(str(path) for path in predicate.get("serialization", {}).get("ignore_paths", []))
        claims = tuple(sorted((str(key), str(value)) for key, value in predicate.get(CLAIMS, {}).items()))
        manifest = Manifest(str(subject["name"]), files, ignored, claims)
        expected, found = str(subject["digest"]["sha256"]), manifest.digest
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        if isinstance(error, ManifestError):
            raise
        raise ManifestError(
            f"the statement is not a model manifest ({type(error).__name__}: {error})"
        ) from None
    if found != expected:
        raise ManifestError(f"the statement's subject digest {expected[:12]} is not the digest of its files")
    return manifest
