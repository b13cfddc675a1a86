"""Starts a real Azurite (the npm package pinned in package.json) on free loopback ports.

Used by the test session (tests/conftest.py), the local stack (`python -m devstack up`) and the
benchmarks. In-memory persistence: every start is a clean storage account, and nothing is left on disk.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent
# Azurite's well-known development account: public, documented, never a real secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def azurite_executable() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found is None:
        raise RuntimeError("`azurite` is not installed: run `npm ci` (or `make install`) in the repository")
    return found


@dataclass
class RunningAzurite:
    blob_port: int
    queue_port: int
    table_port: int
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def connection_string(self) -> str:
        host = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={host}:{self.blob_port}/{DEV_ACCOUNT};"
            f"QueueEndpoint={host}:{self.queue_port}/{DEV_ACCOUNT};"
            f"TableEndpoint={host}:{self.table_port}/{DEV_ACCOUNT};"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> RunningAzurite:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def start_azurite(*, deadline_seconds: float = 30.0) -> RunningAzurite:
    """Start Azurite and return once all three services accept connections."""
    ports = free_port(), free_port(), free_port()
    command = [
        azurite_executable(),
        "--silent",
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--loose",
        *("--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1"),
        *("--blobPort", str(ports[0]), "--queuePort", str(ports[1]), "--tablePort", str(ports[2])),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy(), cwd=REPO_ROOT
    )
    running = RunningAzurite(*ports, process=process)
    end = time.monotonic() + deadline_seconds
    while not all(_accepts(port) for port in ports):
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"Azurite exited with code {process.returncode}: {error.strip()}")
        if time.monotonic() > end:
            running.stop()
            raise RuntimeError(f"Azurite did not listen on ports {ports} within {deadline_seconds} s")
        time.sleep(0.05)  # polling a port with a deadline, not synchronising on time
    return running


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
