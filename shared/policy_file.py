"""The YAML policy file: parsed, validated and cross-checked, with errors that point at a line.

Who calls it: `regsync policy load|validate` and the HTTP rules administration. Nothing is written
unless the whole document is valid. The format is documented in docs/policy.md; an example lives in
examples/seed-policy.yaml. Warnings (`Problem.severity`) never stop a load: `check_policy` returns them
beside the document, e.g. for a tenant share rule that could publish a name another tenant owns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from shared.bounded import INPUT, YamlRefusedError, compose_yaml, construct_yaml, shown
from shared.domain import AssetKind, Frozen, Registry, Tenant, Workspace
from shared.policy import Effect, NameClaim, Policy, PushRule, ShareRule, declared_claim

MAX_POLICY_BYTES = 1_048_576
MAX_POLICY_DEPTH = 32  # the deepest a policy needs is 6 (push[0].targets.workspaces[0] in a list)


class PolicyDocument(Frozen):
    """A policy file: optional inventory (tenants, workspaces, registries) and the rules."""

    version: int = Field(default=1, ge=1, le=1)
    tenants: tuple[Tenant, ...] = ()
    workspaces: tuple[Workspace, ...] = ()
    registries: tuple[Registry, ...] = ()
    share: tuple[ShareRule, ...] = ()
    push: tuple[PushRule, ...] = ()
    ownership: tuple[NameClaim, ...] = ()

    @property
    def policy(self) -> Policy:
        return Policy(share=self.share, push=self.push, ownership=self.ownership)


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based; 0 when the problem is about the whole file
    where: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def render(self, source: str) -> str:
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return (
            f"{source}:{self.line}: {self.where}: {message}"
            if self.where
            else f"{source}:{self.line}: {message}"
        )


class PolicyFileError(ValueError):
    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(problem.render(source) for problem in problems))


def parse_policy(
    text: str,
    *,
    source: str = "<policy>",
    known_tenants: Iterable[str] = (),
    known_workspaces: Iterable[Workspace] = (),
    known_ownership: Iterable[NameClaim] = (),
) -> PolicyDocument:
    """Parse and validate `text` (see `check_policy`); the document, its warnings left aside."""
    document, _ = check_policy(
        text,
        source=source,
        known_tenants=known_tenants,
        known_workspaces=known_workspaces,
        known_ownership=known_ownership,
    )
    return document


def check_policy(
    text: str,
    *,
    source: str = "<policy>",
    known_tenants: Iterable[str] = (),
    known_workspaces: Iterable[Workspace] = (),
    known_ownership: Iterable[NameClaim] = (),
) -> tuple[PolicyDocument, list[Problem]]:
    """Parse and validate `text`; raise PolicyFileError listing the problems of the first stage that has
    any, each with its line. The stages: the text (size, characters, anchors, depth), then YAML syntax
    and duplicate keys, then the fields of every item, then the references between items and to the
    store (checked only once every item is well-formed), including the names tenant share rules may
    publish (against the file's ownership entries and the stored ones it does not replace). Returns the
    document and its warnings."""
    root, data = _load_yaml(text, source)
    try:
        document = PolicyDocument.model_validate(data if data is not None else {}, context=INPUT)
    except ValidationError as error:
        raise PolicyFileError(source, [_problem(root, item) for item in error.errors()]) from None
    workspaces = list(known_workspaces)
    problems = _reference_problems(document, root, set(known_tenants), workspaces)
    replaced = {claim.id for claim in document.ownership}
    claims = (*document.ownership, *(claim for claim in known_ownership if claim.id not in replaced))
    problems += _name_problems(document, root, claims, workspaces)
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        raise PolicyFileError(source, errors)
    return document, problems


def _load_yaml(text: str, source: str) -> tuple[yaml.Node | None, object]:
    try:
        root = compose_yaml(text, max_bytes=MAX_POLICY_BYTES, max_depth=MAX_POLICY_DEPTH)
        duplicates = list(_duplicate_keys(root))
        if duplicates:
            raise PolicyFileError(source, duplicates)
        return root, construct_yaml(root)
    except PolicyFileError:
        raise
    except YamlRefusedError as error:
        raise PolicyFileError(source, [Problem(error.line, "", error.message)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        raise PolicyFileError(source, [Problem(line, "", f"not valid YAML: {error.problem}")]) from None
    except (yaml.YAMLError, ValueError) as error:  # e.g. an integer of more than 4300 digits
        raise PolicyFileError(source, [Problem(0, "", f"not valid YAML: {shown(str(error), 200)}")]) from None


def _duplicate_keys(node: yaml.Node | None) -> Iterable[Problem]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                yield Problem(key.start_mark.line + 1, "", "a key must be plain text, not a list or mapping")
                continue
            if key.value in seen:
                yield Problem(key.start_mark.line + 1, str(key.value), "key appears twice")
            seen.add(key.value)
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)


def _problem(root: yaml.Node | None, error: object) -> Problem:
    details = dict(error)  # type: ignore[call-overload]
    location = tuple(part for part in details["loc"] if not _is_union_tag(part))
    node = _node_at(root, location)
    line = node.start_mark.line + 1 if node is not None else 0
    message = str(details["msg"]).removeprefix("Value error, ")
    return Problem(line, _dotted(location), message)


def _is_union_tag(part: object) -> bool:
    # pydantic inserts the member type's name in locations of union errors; YAML has no such level.
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "none"})


def _node_at(root: yaml.Node | None, location: Sequence[object]) -> yaml.Node | None:
    """The deepest YAML node along `location`: the value, or the key when the key itself is wrong."""
    node = root
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next(((key, value) for key, value in node.value if key.value == part), None)
            if match is None:
                return node
            node = match[1] if not _is_leaf_extra(location, part) else match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _is_leaf_extra(location: Sequence[object], part: object) -> bool:
    return part == location[-1]


def _dotted(location: Sequence[object]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _tenant_lists(rule: ShareRule | PushRule) -> list[tuple[tuple[str, ...], Sequence[str]]]:
    """The lists of tenant ids a rule names besides its owner: a typo there must not mean "nobody"."""
    if isinstance(rule, ShareRule):
        return [(("audience",), rule.audience or ())]
    return [(("from_tenants",), rule.from_tenants or ()), (("targets", "tenants"), rule.targets.tenants)]


def _reference_problems(
    document: PolicyDocument, root: yaml.Node | None, tenants: set[str], workspaces: list[Workspace]
) -> list[Problem]:
    """Rules and workspaces must name tenants and workspaces that exist (here or in the store)."""
    tenants |= {tenant.id for tenant in document.tenants}
    known = {workspace.name: workspace for workspace in (*workspaces, *document.workspaces)}
    problems: list[Problem] = []

    def check(condition: bool, location: tuple[object, ...], message: str) -> None:
        if not condition:
            node = _node_at(root, location)
            problems.append(Problem(node.start_mark.line + 1 if node else 0, _dotted(location), message))

    stored = {workspace.name: workspace for workspace in workspaces}
    for index, workspace in enumerate(document.workspaces):
        check(
            workspace.tenant in tenants,
            ("workspaces", index, "tenant"),
            f"unknown tenant `{workspace.tenant}`",
        )
        # Storing would fail half-way through a load otherwise: names are unique across ARM ids.
        other = stored.get(workspace.name)
        check(
            other is None or other.arm_id.lower() == workspace.arm_id.lower(),
            ("workspaces", index, "name"),
            f"workspace name `{workspace.name}` is already used by {other.arm_id if other else ''}",
        )
    sections: list[tuple[str, Sequence[str]]] = [
        ("tenants", [tenant.id for tenant in document.tenants]),
        ("workspaces", [workspace.name for workspace in document.workspaces]),
        ("registries", [registry.name for registry in document.registries]),
    ]
    for section, names in sections:
        field_name = "id" if section == "tenants" else "name"
        for index, name in enumerate(names):
            check(name not in names[:index], (section, index, field_name), f"`{name}` is listed twice")
    ids = [
        (section, position, item.id)
        for section in ("share", "push", "ownership")
        for position, item in enumerate(getattr(document, section))
    ]
    for index, (section, position, rule_id) in enumerate(ids):
        earlier = [other for _, _, other in ids[:index]]
        check(rule_id not in earlier, (section, position, "id"), f"rule id `{rule_id}` is used twice")
    for index, claim in enumerate(document.ownership):
        for position, tenant in enumerate(claim.tenants):
            check(tenant in tenants, ("ownership", index, "tenants", position), f"unknown tenant `{tenant}`")
    rules: list[tuple[str, int, ShareRule | PushRule]] = [
        *(("share", index, rule) for index, rule in enumerate(document.share)),
        *(("push", index, rule) for index, rule in enumerate(document.push)),
    ]
    for kind, index, rule in rules:
        if rule.tenant is not None:
            check(rule.tenant in tenants, (kind, index, "tenant"), f"unknown tenant `{rule.tenant}`")
        for field_path, named in _tenant_lists(rule):
            for position, tenant in enumerate(named):
                check(tenant in tenants, (kind, index, *field_path, position), f"unknown tenant `{tenant}`")
        field: tuple[str, ...]
        if isinstance(rule, ShareRule):
            names, field = rule.workspaces, ("workspaces",)
        else:
            names, field = rule.targets.workspaces, ("targets", "workspaces")
        for position, name in enumerate(names):
            where = (kind, index, *field, position)
            check(name in known, where, f"unknown workspace `{name}`")
            owner = known.get(name)
            if owner is not None and rule.tenant is not None:
                check(
                    owner.tenant == rule.tenant,
                    where,
                    f"workspace `{name}` belongs to tenant `{owner.tenant}`, "
                    f"not to the rule's tenant `{rule.tenant}`",
                )
    return sorted(problems, key=lambda problem: problem.line)


# --- who may publish which registry names -------------------------------------------------------------

_WILDCARDS = "*?["


def _name_problems(
    document: PolicyDocument, root: yaml.Node | None, claims: Sequence[NameClaim], workspaces: list[Workspace]
) -> list[Problem]:
    """Each name or prefix is claimed once per kind; a tenant share rule that can only publish names
    another tenant owns is an error, one that could publish some of them a warning."""
    problems: list[Problem] = []

    def add(location: tuple[object, ...], message: str, severity: Literal["error", "warning"]) -> None:
        node = _node_at(root, location)
        line = node.start_mark.line + 1 if node else 0
        problems.append(Problem(line, _dotted(location), message, severity))

    mine = {claim.id for claim in document.ownership}
    seen = {
        (field, kind, value): claim.id
        for claim in claims
        if claim.id not in mine
        for field in ("names", "prefixes")
        for value in getattr(claim, field)
        for kind in claim.kinds
    }
    for index, claim in enumerate(document.ownership):
        for field in ("names", "prefixes"):
            for position, value in enumerate(getattr(claim, field)):
                for kind in claim.kinds:
                    other = seen.setdefault((field, kind, value), claim.id)
                    if other != claim.id:
                        what = "name" if field == "names" else "prefix"
                        add(
                            ("ownership", index, field, position),
                            f"{kind.value} {what} `{value}` is claimed by ownership entry `{other}` too",
                            "error",
                        )
                        break
    known = {workspace.name: workspace for workspace in (*workspaces, *document.workspaces)}
    for index, rule in enumerate(document.share):
        if rule.tenant is None or rule.effect is not Effect.ALLOW or not claims:
            continue
        places = rule.workspaces or tuple(name for name, ws in known.items() if ws.tenant == rule.tenant)
        every, example = _reach(rule, rule.tenant, places, claims)
        where = ("share", index, "destination", "name")
        if every and example:
            add(
                where,
                f"every name this tenant rule can publish belongs to another tenant, e.g. {example}",
                "error",
            )
        elif example:
            add(
                where,
                f"this tenant rule could publish {example}; such a share is refused when it happens",
                "warning",
            )
    return problems


def _reach(
    rule: ShareRule, tenant: str, places: Sequence[str], claims: Sequence[NameClaim]
) -> tuple[bool, str | None]:
    """Whether every name `rule` can publish (its destination template over its include globs and its
    workspaces; excludes and tags set aside, which only widens the set) belongs to another tenant, and
    an example of one that does. A pattern's names all start with its text up to the first wildcard."""
    template = rule.destination.name
    if "{workspace}" in template and not places:
        return False, None  # no workspace to share from: the rule publishes nothing
    every, example = True, None
    for kind in rule.assets.kinds:
        for place in places if "{workspace}" in template else ("",):
            for glob in rule.assets.include if "{name}" in template else ("",):
                pattern = template.format(name=glob, tenant=tenant, workspace=place)
                other, could = _pattern_reach(kind, pattern, tenant, claims)
                every, example = every and other, example or could
    return every, example


def _pattern_reach(
    kind: AssetKind, pattern: str, tenant: str, claims: Sequence[NameClaim]
) -> tuple[bool, str | None]:
    def shown(claim: NameClaim, what: str) -> str:
        return f"{kind.value} {what} ({claim.owner}, ownership entry `{claim.id}`)"

    cut = min((pattern.index(char) for char in _WILDCARDS if char in pattern), default=-1)
    if cut < 0:  # one name
        owner = declared_claim(claims, kind, pattern)
        if owner is None or tenant in owner.tenants:
            return False, None
        return True, shown(owner, f"`{pattern}`")
    start = pattern[:cut]
    others = sorted((claim for claim in claims if kind in claim.kinds), key=lambda claim: claim.id)
    example = None
    for claim in others:
        if tenant in claim.tenants:
            continue
        name = next((name for name in claim.names if fnmatchcase(name, pattern)), None)
        prefix = next((p for p in claim.prefixes if p.startswith(start) or start.startswith(p)), None)
        if name or prefix:
            example = shown(claim, f"`{name}`" if name else f"names starting `{prefix}`")
            break
    owner = declared_claim(claims, kind, start)  # every name of the pattern starts with `start`
    length = max((len(p) for p in owner.prefixes if start.startswith(p)), default=-1) if owner else -1
    if owner is None or length < 0 or tenant in owner.tenants:
        return False, example
    carved = any(  # a more specific claim that admits the tenant could cover some of its names
        tenant in claim.tenants
        and (
            any(fnmatchcase(name, pattern) for name in claim.names)
            or any(len(p) > length and p.startswith(start) for p in claim.prefixes)
        )
        for claim in others
    )
    return not carved, example
