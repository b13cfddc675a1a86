"""The policy file's parser: bounded before it composes anything, and problems that name their line.

Issue 9 §3: a 342-byte "billion laughs" hung `regsync policy validate` for minutes, a recursive alias
gave a traceback, and a NUL byte gave a ReaderError (500 in the API). Each is now one problem, at once.
"""

from __future__ import annotations

import pytest

from shared.domain import Workspace
from shared.policy_file import MAX_POLICY_BYTES, MAX_POLICY_DEPTH, PolicyFileError, parse_policy

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
WORKSPACE = {
    "name": "workspace1",
    "tenant": "contoso",
    "subscription_id": "11111111-1111-1111-1111-111111111111",
    "resource_group": "rg",
    "region": "eastus",
}


def problems(text: str, **known: object) -> list[tuple[int, str, str]]:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, source="p.yaml", **known)  # type: ignore[arg-type]
    return [(problem.line, problem.where, problem.message) for problem in caught.value.problems]


def quickly(text: str) -> list[tuple[int, str, str]]:
    """Problems of a hostile document; one that hangs is caught by the per-test timeout."""
    return problems(text)


def test_billion_laughs_is_refused_at_its_first_anchor_at_once() -> None:
    assert len(BILLION_LAUGHS.encode()) == 342
    assert quickly(BILLION_LAUGHS) == [(1, "", "anchors (`&a`) are not allowed in a policy")]


def test_recursive_alias_is_refused_not_a_traceback() -> None:
    assert quickly("a: &a [*a]\n") == [(1, "", "anchors (`&a`) are not allowed in a policy")]


def test_an_alias_without_anchor_and_a_merge_key_are_refused_too() -> None:
    assert quickly("share:\n  - *x\n")[0][0] == 2
    merge = "tenants:\n  - &t {id: a}\n  - <<: *t\n"
    assert quickly(merge) == [(2, "", "anchors (`&t`) are not allowed in a policy")]


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x08"])
def test_control_characters_the_yaml_reader_refuses_are_one_problem_with_the_line(char: str) -> None:
    text = f"tenants:\n  - id: contoso\n    display_name: A{char}B\n"
    code = f"U+{ord(char):04X}"
    assert quickly(text) == [
        (3, "", f"control character {code} is not allowed (write it escaped, or not at all)")
    ]


def test_deep_nesting_is_refused_naming_the_limit() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert quickly(deep) == [(1, "", f"the document is nested deeper than {MAX_POLICY_DEPTH} levels")]
    assert quickly("a:\n" + "".join("  " * n + f"k{n}:\n" for n in range(1, 40)))[0][2].startswith(
        "the document is nested deeper"
    )


def test_size_is_bounded_naming_the_limit() -> None:
    text = "#" * (MAX_POLICY_BYTES + 1)
    assert quickly(text) == [
        (0, "", f"the document has {MAX_POLICY_BYTES + 1} bytes; the limit is {MAX_POLICY_BYTES}")
    ]


def test_escaped_control_characters_in_free_text_are_refused_naming_the_field() -> None:
    text = 'tenants:\n  - id: contoso\n    display_name: "evil\\e[31mred"\n'
    assert problems(text) == [
        (3, "tenants[0].display_name", "control character U+001B is not allowed in free text")
    ]
    rule = 'share:\n  - id: r1\n    description: "a\\u202eb"\n'
    assert problems(rule) == [
        (3, "share[0].description", "control character U+202E is not allowed in free text")
    ]


def test_descriptions_may_span_lines() -> None:
    document = parse_policy("share:\n  - id: r1\n    description: |\n      one\n      two\n")
    assert document.share[0].description == "one\ntwo\n"


def test_non_text_keys_and_huge_integers_are_problems_not_crashes() -> None:
    assert quickly("? [a, b]\n: c\n") == [(1, "", "a key must be plain text, not a list or mapping")]
    assert quickly("version: " + "9" * 5000 + "\n")[0][2].startswith("not valid YAML")


def test_unknown_tenants_in_audience_and_from_tenants_are_refused_with_their_line() -> None:
    text = (
        "tenants: [{id: contoso}]\n"
        "share:\n"
        "  - {id: s1, audience: [contoso, globex]}\n"
        "push:\n"
        "  - id: p1\n"
        "    from_tenants: [initech]\n"
        "    targets: {tenants: [umbrella]}\n"
    )
    assert problems(text) == [
        (3, "share[0].audience[1]", "unknown tenant `globex`"),
        (6, "push[0].from_tenants[0]", "unknown tenant `initech`"),
        (7, "push[0].targets.tenants[0]", "unknown tenant `umbrella`"),
    ]
    assert parse_policy(text.replace("globex", "contoso"), known_tenants=["initech", "umbrella"])


def test_valid_documents_still_parse_and_report_lines() -> None:
    document = parse_policy("tenants: [{id: contoso}]\nworkspaces:\n  - " + str(WORKSPACE).replace("'", ""))
    assert document.workspaces == (Workspace(**WORKSPACE),)
    assert problems("tenants:\n  - {id: contoso, colour: red}\n") == [
        (2, "tenants[0].colour", "Extra inputs are not permitted")
    ]
