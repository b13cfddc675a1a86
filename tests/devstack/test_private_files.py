"""Secrets the local stack writes are 0600 from creation, also over a file an older version left 0644."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.host import HostKeys, write_keys_file
from devstack.private_files import write_private
from devstack.stack import read_stack_env, write_env_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0: a file created without an explicit mode would be world-readable (0666)."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_write_private_replaces_a_world_readable_file(tmp_path: Path, permissive_umask: None) -> None:
    target = tmp_path / "key.pem"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, b"secret")
    assert (target.read_bytes(), mode(target)) == (b"secret", 0o600)
    assert [path.name for path in tmp_path.iterdir()] == ["key.pem"]  # no partial file left


def test_stack_env_and_host_keys_file_are_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    env_file, keys_file = tmp_path / "stack.env", tmp_path / "keys.json"
    for path in (env_file, keys_file):
        path.write_text("left by an older version")
        path.chmod(0o644)
    write_env_file(env_file, {"REGSYNC_MASTER_KEY": "k=1;2"})
    write_keys_file(keys_file, HostKeys(function="f", master="m", eventgrid="e"))
    assert (mode(env_file), mode(keys_file)) == (0o600, 0o600)
    assert read_stack_env(tmp_path) == {"REGSYNC_MASTER_KEY": "k=1;2"}
    assert json.loads(keys_file.read_text()) == {"function": "f", "master": "m", "eventgrid": "e"}
