"""Files only their owner may read: how the local stack writes every secret it puts on disk.

Called for the emulator's TLS private key (devstack/emulator/tls.py) and emulator.env
(devstack/emulator/__main__.py), the stack's stack.env and azurite.json (devstack/stack.py) and the local
host's `--keys-file` (devstack/host/config.py). The file is created with mode 0600 (never readable by
others, not even for a moment) in the same folder and then renamed over the target: readers see the old
file or the whole new one, and a target left 0644 by an older version is replaced, not reused.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, content: str | bytes) -> None:
    """Write `content` (text as UTF-8) to `path` atomically, with mode 0600 from creation."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as stream:  # closes the descriptor
            stream.write(data)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
