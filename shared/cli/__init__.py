"""`regsync`, the operator CLI: inventory, policy files, `explain` and the operations, on RegSync's state.

Who calls it: operators and scripts (the `regsync` script from pyproject, or `python -m shared.cli`), the
local stack's demo and the integration tests (in-process through typer's CliRunner). One module per noun
(tenant, workspace, registry, policy) plus one per operation (explain, plan, sync, pull, approve, recall,
drift, status, audit); this module builds the root group, reads the global options and turns every
expected failure into one line on stderr with exit code 1.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from azure.core.exceptions import AzureError
from pydantic import ValidationError
from typer.core import TyperGroup

import shared
from shared.bounded import escaped
from shared.cli import (
    approve,
    audit,
    deploy,
    drift,
    explain,
    plan,
    policy,
    pull,
    recall,
    registry,
    rollout,
    signing,
    status,
    sync,
    tenant,
    workspace,
)
from shared.cli.application import Application, CliError, load_env_file
from shared.cli.backend import ApiTarget
from shared.errors import RegSyncError
from shared.policy_file import PolicyFileError
from shared.storage import StateError

if TYPE_CHECKING:
    # typer vendors click; its Context is the type TyperGroup.invoke is declared with.
    from typer._click.core import Context as ClickContext


class RegSyncGroup(TyperGroup):
    """The root group: the one place where failures become messages and exit codes."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (CliError, StateError, RegSyncError) as error:
            _fail(ctx, [str(error)])
        except PolicyFileError as error:
            _fail(ctx, [problem.render(error.source) for problem in error.problems])
        except ValidationError as error:
            _fail(ctx, [_field_error(item) for item in error.errors()])
        except ValueError as error:  # settings that cannot work, e.g. no storage configured
            _fail(ctx, [str(error)])
        except AzureError as error:
            # The first line says what failed; the rest can be long. Never the connection string.
            summary = str(error).splitlines()[0] if str(error) else type(error).__name__
            _fail(ctx, [f"the storage request failed: {summary}"])


def _field_error(item: Any) -> str:
    where = ".".join(str(part) for part in item["loc"]) or "input"
    return f"`{where}`: {str(item['msg']).removeprefix('Value error, ')}"


def _fail(ctx: ClickContext, lines: list[str]) -> None:
    found = ctx.find_object(Application)
    for line in lines:
        if found is not None:
            found.message(line)
        else:
            typer.echo(escaped(line), err=True)
    raise typer.Exit(code=1)


app = typer.Typer(
    name="regsync",
    cls=RegSyncGroup,
    help="RegSync operator CLI: inventory, policies, `explain`, plan/sync/pull/approve/recall/status/audit.",
    no_args_is_help=True,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell (the installed script).
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version() -> str:
    """The installed distribution's version; the source tree's when run from a checkout."""
    try:
        return installed_version("regsync")
    except PackageNotFoundError:
        return shared.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"regsync {_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print compact JSON on stdout.")] = False,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="KEY=VALUE file (e.g. the local stack's stack.env) to load first."),
    ] = None,
    connection_string: Annotated[
        str | None,
        typer.Option(
            "--connection-string", help="Storage connection string (overrides AzureWebJobsStorage)."
        ),
    ] = None,
    table_prefix: Annotated[
        str | None, typer.Option("--table-prefix", help="Table name prefix (overrides REGSYNC_TABLE_PREFIX).")
    ] = None,
    api: Annotated[
        str | None,
        typer.Option(
            "--api",
            help="Function App base URL (e.g. http://127.0.0.1:7071): run plan/sync/pull/approve/status/"
            "audit through its HTTP API instead of in-process.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", envvar="REGSYNC_FUNCTION_KEY", show_default=False, help="Function key, with --api."
        ),
    ] = None,
    principal: Annotated[
        str | None,
        typer.Option(
            "--principal",
            envvar="REGSYNC_PRINCIPAL",
            show_default=False,
            help="X-MS-CLIENT-PRINCIPAL value (base64 JSON) to present, with --api.",
        ),
    ] = None,
) -> None:
    if env_file is not None:
        load_env_file(env_file)
    ctx.obj = Application(
        json_output=json_output,
        connection_string=connection_string,
        table_prefix=table_prefix,
        api=_api_target(api, key=key, principal=principal),
    )


def _api_target(url: str | None, *, key: str | None, principal: str | None) -> ApiTarget | None:
    """After --env-file, so its REGSYNC_FUNCTION_KEY / REGSYNC_PRINCIPAL count too."""
    if not url:
        return None
    key = key or os.environ.get("REGSYNC_FUNCTION_KEY") or None
    principal = principal or os.environ.get("REGSYNC_PRINCIPAL") or None
    return ApiTarget(url, key=key, principal=principal)


app.add_typer(tenant.app, name="tenant")
app.add_typer(workspace.app, name="workspace")
app.add_typer(registry.app, name="registry")
app.add_typer(policy.app, name="policy")
app.add_typer(deploy.app, name="deploy")
app.add_typer(rollout.app, name="rollout")
app.command(name="explain")(explain.explain)
# Operations: the engine in-process, on the same storage and AzureML as the Functions app, or (--api)
# the Function App's HTTP API; shared/cli/backend.py picks.
app.command(name="plan")(plan.plan)
app.command(name="sync")(sync.sync)
app.command(name="pull")(pull.pull)
app.command(name="approve")(approve.approve)
app.command(name="recall")(recall.recall)
app.command(name="drift")(drift.drift)
app.command(name="status")(status.status)
app.command(name="audit")(audit.audit)
app.command(name="verify")(signing.verify)
# A publisher's tool: signs a local model folder, touches no RegSync state.
app.command(name="sign")(signing.sign)


def main() -> None:
    app()
