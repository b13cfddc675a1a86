"""The application object every `regsync` command receives: consoles, settings, the store, output modes,
and (`--api`) the Function App the operations go through.

Who calls it: the root callback in shared/cli/__init__.py creates one per invocation and puts it on the
typer context; each command module fetches it with `application(ctx)`. Commands raise `CliError` (or let
domain, storage and validation errors through); `shared.cli.RegSyncGroup` renders them in one place.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from azure.core.exceptions import ResourceNotFoundError
from pydantic import TypeAdapter, ValidationError
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.bounded import control_character, escaped
from shared.engine import Engine
from shared.runtime import build_engine
from shared.settings import Settings
from shared.storage import StateStore

if TYPE_CHECKING:
    from shared.cli.backend import ApiTarget

T = TypeVar("T")

# The output width when stdout is not a terminal and COLUMNS is unset: wide enough for any row.
PIPE_WIDTH = 4096


class CliError(Exception):
    """A refusal the user can act on; the message is one sentence naming the thing in backticks."""


def unknown(noun: str, name: str) -> CliError:
    return CliError(f"{noun} `{name}` is unknown")


def checked(field: str, annotation: Any, value: str) -> str:
    """`value` validated as the domain type `annotation`, so a hostile name never reaches a key or query."""
    try:
        return str(TypeAdapter(annotation).validate_python(value))
    except ValidationError as error:
        raise CliError(f"`{field}`: {error.errors()[0]['msg']}") from None


def checked_text(field: str, value: str, *, max_length: int = 256) -> str:
    """Free text given on the command line (e.g. an approver): one line, no control characters."""
    found = control_character(value)
    if found:
        raise CliError(f"`{field}`: control character {found} is not allowed in free text")
    if len(value) > max_length:
        raise CliError(f"`{field}`: at most {max_length} characters")
    return value


class Application:
    """One invocation's state. Settings and the store are built on first use, so `--help` and
    `policy validate` work without any storage configured."""

    def __init__(
        self,
        *,
        json_output: bool,
        connection_string: str | None,
        table_prefix: str | None,
        api: ApiTarget | None = None,
    ) -> None:
        self.json_output = json_output
        self.api = api  # set: the operations go through the HTTP API (shared/cli/backend.py)
        self._overrides: dict[str, str] = {}
        if connection_string:
            self._overrides["storage_connection_string"] = connection_string
        if table_prefix:
            self._overrides["table_prefix"] = table_prefix
        self._tables_ready = False

    @cached_property
    def console(self) -> Console:
        # Rich honours NO_COLOR and turns colour off when the stream is not a terminal.
        console = Console(highlight=False, markup=False, emoji=False)
        if not console.is_terminal and not os.environ.get("COLUMNS"):
            # Piped or redirected: Rich would wrap at 80 columns and split a subscription id over three
            # lines. A table is as wide as its content instead (Rich pads no further), one row per line
            # for grep, cut and awk; COLUMNS still sets a width on purpose.
            console.width = PIPE_WIDTH
        return console

    @cached_property
    def err_console(self) -> Console:
        return Console(stderr=True, highlight=False, markup=False, emoji=False)

    @cached_property
    def settings(self) -> Settings:
        return Settings(**self._overrides)  # type: ignore[arg-type]  # aliases are populated by name

    @cached_property
    def store(self) -> StateStore:
        return StateStore.from_settings(self.settings)

    @cached_property
    def engine(self) -> Engine[StateStore]:
        """The engine the Functions app runs, built from the same settings (storage, queues, AzureML)."""
        return build_engine(self.settings)

    def writable_store(self) -> StateStore:
        """The store, with its tables created: called before the first write of an invocation."""
        if not self._tables_ready:
            self.store.ensure_tables()
            self._tables_ready = True
        return self.store

    def read(self, query: Callable[[], T], empty: T) -> T:
        """Run a read; a store whose tables were never created reads as empty rather than failing."""
        try:
            return query()
        except ResourceNotFoundError:
            return empty

    def read_list(self, query: Callable[[], list[T]]) -> list[T]:
        return self.read(query, [])

    # --- output --------------------------------------------------------------------------------

    def emit_json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n")

    def emit_raw(self, text: str) -> None:
        """Text written as is (e.g. YAML): no wrapping, no styling."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")

    def emit_table(self, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            # Escaped: a value stored before control characters were refused must not drive the terminal.
            table.add_row(*(Text(escaped(cell)) for cell in row))
        self.console.print(table)

    def emit_line(self, text: str) -> None:
        self.console.print(Text(escaped(text)), soft_wrap=True)

    def message(self, text: str) -> None:
        """A status message for people: stderr, so stdout stays data only. Escaped like tables."""
        self.err_console.print(Text(escaped(text)), soft_wrap=True)


def application(ctx: typer.Context) -> Application:
    found = ctx.find_object(Application)
    if found is None:  # only when a command is invoked without the root group, i.e. a programming error
        raise RuntimeError("regsync commands must run under the root `regsync` group")
    return found


def load_env_file(path: Path) -> None:
    """Put the KEY=VALUE lines of `path` (e.g. the local stack's stack.env) into the environment.

    An explicit --env-file wins over variables already set: that is why one passes it.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise CliError(f"env file `{path}` cannot be read: {error.strerror}") from None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.removeprefix("export ").partition("=")
        if not separator or not key.strip():
            raise CliError(f"env file `{path}` line {number} is not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ[key.strip()] = value
