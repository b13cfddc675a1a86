"""`python -m devstack up|down`: the one command for the whole local stack (see docs/local-stack.md).

Used by developers, the demo scripts and the e2e tests. Data goes to stdout (`READY`, then the path of
stack.env), messages to stderr; errors are one sentence and exit code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from devstack.stack import DEFAULT_APP, DEFAULT_EVENTGRID_FUNCTION, StackError, down, up

cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])

StateDir = Annotated[Path, typer.Option("--state-dir", help="where stack.json, stack.env and logs go")]


@cli.command("up")
def up_command(
    world: Annotated[Path, typer.Option("--world", exists=True, dir_okay=False, help="world YAML file")],
    state_dir: StateDir = Path(".state/stack"),
    speed: Annotated[float, typer.Option(help="divide the emulator's Event Grid retry delays by this")] = 1.0,
    app: Annotated[str, typer.Option(help="module:attribute of the FunctionApp")] = DEFAULT_APP,
    eventgrid_function: Annotated[
        str, typer.Option(help="function that receives the emulator's events")
    ] = DEFAULT_EVENTGRID_FUNCTION,
    settings: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="local.settings.json for the host")
    ] = None,
    host_json: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="host.json for the host (default: the app's)"),
    ] = None,
) -> None:
    """Start Azurite, the AzureML emulator, the local topic and the local Functions host; print READY."""
    try:
        stack = up(
            world,
            state_dir,
            speed=speed,
            app=app,
            eventgrid_function=eventgrid_function,
            settings=settings,
            host_json=host_json,
        )
    except StackError as error:
        typer.echo(f"up failed: {error}", err=True)
        raise typer.Exit(1) from error
    for component in stack.components:
        typer.echo(f"started {component.name} (pid {component.pid})", err=True)
    typer.echo(f"host {stack.host_url}, emulator {stack.emulator_url}", err=True)
    typer.echo("READY")
    typer.echo(str((state_dir / "stack.env").resolve()))


@cli.command("down")
def down_command(state_dir: StateDir = Path(".state/stack")) -> None:
    """Stop exactly the processes `up` started in this state directory."""
    report = down(state_dir)
    for line in report or [f"nothing recorded in `{state_dir}`"]:
        typer.echo(line, err=True)


if __name__ == "__main__":
    sys.exit(cli())
