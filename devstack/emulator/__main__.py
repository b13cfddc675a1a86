"""`python -m devstack.emulator --world FILE [--port N] [--state-dir DIR] [--speed F]`.

Generates a certificate, writes DIR/emulator.env, serves HTTPS on 127.0.0.1 and prints exactly one line
`READY https://127.0.0.1:PORT` on stdout once it listens. Started by `launch.start_emulator` (tests, the
local stack) or by hand; stopped with SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

import uvicorn

from devstack.emulator.app import build_app
from devstack.emulator.emulator import CLOUD_NAME, Emulator
from devstack.emulator.tls import write_self_signed
from devstack.emulator.world import load_world
from devstack.private_files import write_private


class ReadyServer(uvicorn.Server):
    """A uvicorn server that announces READY once its socket accepts connections."""

    ready_line = ""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        print(self.ready_line, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.emulator", description=__doc__)
    parser.add_argument("--world", type=Path, required=True, help="world YAML file")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument(
        "--state-dir", type=Path, default=Path(".state/emulator"), help="where cert and env go"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="divide Event Grid retry delays by this")
    return parser.parse_args(argv)


def write_env(state_dir: Path, base_url: str, cert: Path) -> Path:
    """emulator.env: what a client process needs to point the SDK at the emulator (mode 0600, like every
    env file of the local stack, though it holds no key today)."""
    env = {
        "ARM_CLOUD_METADATA_URL": f"{base_url}/metadata/endpoints",
        "REGISTRY_DISCOVERY_ENDPOINT_URL": f"{base_url}/",
        "REQUESTS_CA_BUNDLE": str(cert.resolve()),
        "AZUREML_CURRENT_CLOUD": CLOUD_NAME,
        "AZUREML_EMULATOR_URL": base_url,
        "AZUREML_EMULATOR_ADMIN_URL": f"{base_url}/_admin",
        "AZUREML_EMULATOR_CA_BUNDLE": str(cert.resolve()),
    }
    path = state_dir / "emulator.env"
    write_private(path, "".join(f"{k}={v}\n" for k, v in env.items()))
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    world = load_world(args.world)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    base_url = f"https://127.0.0.1:{sock.getsockname()[1]}"
    cert, key = write_self_signed(args.state_dir)
    write_env(args.state_dir, base_url, cert)
    emu = Emulator(world, base_url, speed=args.speed)
    config = uvicorn.Config(
        build_app(emu),
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,  # idle keep-alive clients must not hold `down` up
    )
    server = ReadyServer(config)
    server.ready_line = f"READY {base_url}"
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
