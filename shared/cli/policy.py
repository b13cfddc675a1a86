"""`regsync policy validate|load|list|remove|export`: the YAML policy file and the rules in the store.

Validation is all-or-nothing: `load` checks the whole file (references included, against the store's
tenants and workspaces too) and the merge with the stored rules before it writes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from shared.admin import apply_document
from shared.cli.application import Application, CliError, application, checked, unknown
from shared.cli.backend import CLI_CALLER
from shared.domain import AssetKind
from shared.engine import new_correlation_id
from shared.policy import AssetSelector, OnRemove, Policy, PushRule, RuleId, ShareRule
from shared.policy_file import MAX_POLICY_BYTES, PolicyDocument, PolicyFileError, Problem, check_policy

app = typer.Typer(help="Policy: load, inspect and export share and push rules.", no_args_is_help=True)
FileArgument = Annotated[Path, typer.Argument(metavar="FILE", help="Policy file (YAML, see docs/policy.md).")]


@app.command("validate")
def validate(
    ctx: typer.Context,
    file: FileArgument,
    check_store: Annotated[
        bool, typer.Option("--check-store", help="Also resolve references against the store's inventory.")
    ] = False,
) -> None:
    """Check a policy file and print every problem with its line; writes nothing."""
    cli = application(ctx)
    try:
        document, warnings = _parse(cli, file, with_store=check_store)
    except PolicyFileError as error:
        if not cli.json_output:
            raise
        problems = [{"line": p.line, "where": p.where, "message": p.message} for p in error.problems]
        cli.emit_json({"file": str(file), "valid": False, "problems": problems})
        raise typer.Exit(code=1) from None
    if cli.json_output:
        shown = [{"line": p.line, "where": p.where, "message": p.message} for p in warnings]
        cli.emit_json({"file": str(file), "valid": True, **_counts(document), "warnings": shown})
    else:
        _warn(cli, file, warnings)
        cli.emit_line(f"{file}: valid ({_summary(document)})")


@app.command("load")
def load(
    ctx: typer.Context,
    file: FileArgument,
    replace: Annotated[bool, typer.Option("--replace", help="Remove stored rules the file lacks.")] = False,
) -> None:
    """Validate a policy file, then store its inventory and rules (nothing at all if it is invalid)."""
    cli = application(ctx)
    document, warnings = _parse(cli, file, with_store=True)
    before = cli.read(cli.store.load_policy, Policy()).push if replace else ()
    removed = apply_document(cli.writable_store(), document, replace_all=replace)
    # Removed push rules that say `on_remove: recall` take back what only they delivered.
    recalling = [rule for rule in before if rule.id in removed and rule.on_remove is OnRemove.RECALL]
    for rule in recalling:
        for outcome in cli.engine.withdraw_rule(rule, caller=CLI_CALLER, correlation_id=new_correlation_id()):
            if not cli.json_output:
                cli.emit_line(f"{outcome.subject} @ {outcome.target}: {outcome.label} ({outcome.reason})")
    if not cli.json_output:
        _warn(cli, file, warnings)
    if cli.json_output:
        cli.emit_json({"file": str(file), **_counts(document), "removed_rules": removed})
        return
    cli.message(f"{file}: loaded ({_summary(document)})")
    if removed:
        cli.message(f"removed {len(removed)} rule(s) the file lacks: {', '.join(removed)}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the stored rules: share rules, then push rules, each in id order."""
    cli = application(ctx)
    policy = cli.read(cli.store.load_policy, Policy())
    rules: list[ShareRule | PushRule] = [*policy.share, *policy.push]
    if cli.json_output:
        cli.emit_json([{"kind": _kind(rule), **rule.model_dump(mode="json")} for rule in rules])
        return
    rows = [
        (rule.id, _kind(rule), rule.tenant or "provider", rule.effect.value, _assets(rule.assets), _how(rule))
        for rule in rules
    ]
    cli.emit_table(["ID", "KIND", "OWNER", "EFFECT", "ASSETS", "TARGETS / ACTION"], rows)


@app.command("remove")
def remove(ctx: typer.Context, rule_id: Annotated[str, typer.Argument(metavar="RULE_ID")]) -> None:
    """Remove one rule by id."""
    cli = application(ctx)
    checked("rule id", RuleId, rule_id)
    removed = next((rule for rule in cli.store.load_policy().push if rule.id == rule_id), None)
    if not cli.store.delete_rule(rule_id):
        raise unknown("rule", rule_id)
    # A push rule with `on_remove: recall` takes back what only it delivered (shared.engine.fleet).
    withdrawn = (
        cli.engine.withdraw_rule(removed, caller=CLI_CALLER, correlation_id=new_correlation_id())
        if removed is not None and removed.on_remove is OnRemove.RECALL  # else no engine is needed
        else []
    )
    if cli.json_output:
        cli.emit_json({"removed": rule_id, "withdrawn": [outcome.as_dict() for outcome in withdrawn]})
    else:
        cli.message(f"rule `{rule_id}` removed")
        for outcome in withdrawn:
            cli.emit_line(f"{outcome.subject} @ {outcome.target}: {outcome.label} ({outcome.reason})")


@app.command("export")
def export(ctx: typer.Context) -> None:
    """Print what is stored as a policy file (YAML; JSON with --json) that `policy load` accepts."""
    cli = application(ctx)
    store = cli.store
    policy = cli.read(store.load_policy, Policy())
    document = PolicyDocument(
        tenants=tuple(cli.read_list(store.list_tenants)),
        workspaces=tuple(sorted(cli.read_list(store.list_workspaces), key=lambda item: item.name)),
        registries=tuple(cli.read_list(store.list_registries)),
        share=policy.share,
        push=policy.push,
        ownership=policy.ownership,
    )
    data: dict[str, Any] = {"version": document.version}
    for section in ("tenants", "workspaces", "registries", "share", "push", "ownership"):
        data[section] = [
            item.model_dump(mode="json", exclude_defaults=True) for item in getattr(document, section)
        ]
    if cli.json_output:
        cli.emit_json(data)
    else:
        cli.emit_raw(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))


def _warn(cli: Application, file: Path, warnings: list[Problem]) -> None:
    for warning in warnings:
        cli.message(warning.render(str(file)))


def _parse(cli: Application, file: Path, *, with_store: bool) -> tuple[PolicyDocument, list[Problem]]:
    try:
        with file.open("rb") as stream:  # one byte past the limit is enough to refuse it
            raw = stream.read(MAX_POLICY_BYTES + 1)
        text = raw.decode("utf-8", "replace" if len(raw) > MAX_POLICY_BYTES else "strict")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise CliError(f"policy file `{file}` cannot be read: {reason}") from None
    if not with_store:
        return check_policy(text, source=str(file))
    tenants = cli.read_list(cli.store.list_tenants)
    workspaces = cli.read_list(cli.store.list_workspaces)
    stored = cli.read(cli.store.load_policy, Policy())
    return check_policy(
        text,
        source=str(file),
        known_tenants=[tenant.id for tenant in tenants],
        known_workspaces=workspaces,
        known_ownership=stored.ownership,
    )


def _counts(document: PolicyDocument) -> dict[str, int]:
    return {
        "share_rules": len(document.share),
        "push_rules": len(document.push),
        "tenants": len(document.tenants),
        "workspaces": len(document.workspaces),
        "registries": len(document.registries),
    }


def _summary(document: PolicyDocument) -> str:
    singular = {"registries": "registry"}
    parts = []
    for name, count in _counts(document).items():
        words = name.replace("_", " ")
        parts.append(f"{count} {words if count != 1 else singular.get(words, words.removesuffix('s'))}")
    return ", ".join(parts)


def _kind(rule: ShareRule | PushRule) -> str:
    return "share" if isinstance(rule, ShareRule) else "push"


def _assets(selector: AssetSelector) -> str:
    kinds = set(selector.kinds) == set(AssetKind)
    parts = ["any kind" if kinds else ", ".join(kind.value for kind in selector.kinds)]
    if selector.include != ("*",):
        parts.append(f"include {', '.join(selector.include)}")
    if selector.exclude:
        parts.append(f"exclude {', '.join(selector.exclude)}")
    if selector.tags:
        parts.append("tags " + ", ".join(f"{key}={value}" for key, value in selector.tags.items()))
    return "; ".join(parts)


def _how(rule: ShareRule | PushRule) -> str:
    if isinstance(rule, ShareRule):
        origin = f"from {', '.join(rule.workspaces)}" if rule.workspaces else "from any workspace"
        audience = "everyone" if rule.audience is None else ", ".join(rule.audience) or "nobody"
        naming = f"{rule.destination.name}:{rule.destination.version}"
        return f"{origin}; as {naming}; audience {audience}"
    targets = rule.targets
    scope = [
        f"{label} {', '.join(values)}"
        for label, values in (
            ("workspaces", targets.workspaces),
            ("tenants", targets.tenants),
            ("stages", targets.stages),
        )
        if values
    ]
    if rule.from_tenants is not None:
        scope.append(f"from tenants {', '.join(rule.from_tenants) or 'none'}")
    mode = rule.action.mode.value + (f" to {rule.action.endpoint}" if rule.action.endpoint else "")
    version = rule.version_policy.value + (f" {rule.pinned_version}" if rule.pinned_version else "")
    return f"{'; '.join(scope) or 'every workspace'}; {mode}, {rule.gate.value}, {version}"
