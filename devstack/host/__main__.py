"""`python -m devstack.host --app function_app:app --port 7071 [...]`: the local host's command line.

Started by the local stack (devstack/stack.py) as a detached process, or by hand (docs/local-stack.md).
Reads local.settings.json into the environment before importing the app, then serves it with uvicorn.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import devstack.host
from devstack.host.config import HostConfig, load_settings_file, write_keys_file
from devstack.host.discovery import import_app
from devstack.host.http import LocalHost

log = logging.getLogger("devstack.host")  # one logger for the whole host, named as before the split


def _package_summary() -> str:
    """The first line of the package docstring, as `--help` showed it before the split."""
    return (devstack.host.__doc__ or "").splitlines()[0]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.host", description=_package_summary())
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument(
        "--settings",
        type=Path,
        help="local.settings.json-style file (default: ./local.settings.json if present); "
        "its Values fill in what the environment lacks",
    )
    parser.add_argument("--host-json", type=Path, help="host.json to use (default: ./host.json)")
    parser.add_argument("--poll-interval", type=float, help="override maxPollingInterval (seconds)")
    parser.add_argument("--keys-file", type=Path, help="write the keys in use here as JSON (mode 0600)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import uvicorn  # only the command line needs the server

    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDKs log every HTTP request at INFO
    settings_file = args.settings or Path("local.settings.json")
    if settings_file.exists():
        # Before the import: the app may read settings then. The environment wins over the file, as
        # with Core Tools, so the local stack's values (storage, emulator, keys) are never overridden.
        for name, value in load_settings_file(settings_file).items():
            os.environ.setdefault(name, value)
    config = HostConfig.load(args.host_json or Path.cwd() / "host.json")
    host = LocalHost(import_app(args.app), config=config, poll_interval=args.poll_interval)
    if args.keys_file:
        write_keys_file(args.keys_file, host.keys)
    log.info("serving %d functions on http://%s:%d", len(host.functions), args.host, args.port)
    uvicorn.run(host.asgi, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
