"""shared.bounded: JSON refused past its limits before it is parsed, free text checked and escaped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared.bounded import INPUT, control_character, escaped, json_depth, load_json, shown
from shared.domain import OneLineText
from shared.errors import InvalidInputError

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


@settings(max_examples=300)
@given(values)
def test_json_depth_counts_structure_and_ignores_brackets_in_strings(value: Any) -> None:
    assert json_depth(json.dumps(value)) == depth(value)


def test_deep_json_is_refused_before_parsing_at_once() -> None:
    with pytest.raises(InvalidInputError, match="nested deeper than 32 levels"):
        load_json(b"[" * 1_000_000 + b"]" * 1_000_000)
    assert load_json("[" * 32 + "]" * 32) == json.loads("[" * 32 + "]" * 32)
    assert load_json(json.dumps(["[" * 40 + '\\"{'])) == ["[" * 40 + '\\"{']


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "the body has the key `a` twice in one object"),
        ('{"a": NaN}', "the body is not valid JSON: NaN is not a JSON value"),
        ('{"a": -Infinity}', "the body is not valid JSON: -Infinity is not a JSON value"),
        ("[1,", "the body is not valid JSON: Expecting value"),
        ("9" * 5000, "the body is not valid JSON: Exceeds the limit"),
    ],
)
def test_duplicate_keys_constants_and_bad_json_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_json(text)
    assert str(caught.value).startswith(message)


def test_bytes_must_be_utf8() -> None:
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        load_json(b'{"a": "\xff"}')


def test_escaped_shows_controls_and_bidi_overrides_and_keeps_the_rest() -> None:
    assert escaped("a\x1b[31mb\x07\u202ec\u00e9\n") == "a\\x1b[31mb\\x07\\u202ec\u00e9\\n"
    assert shown("x" * 100, 10) == "xxxxxxxxxx… (100 characters)"


def test_control_characters_are_found_and_newline_is_allowed_only_in_multiline_text() -> None:
    assert control_character("fine text, é") is None
    assert control_character("a\nb") == "U+000A"
    assert control_character("a\nb\tc", multiline=True) is None
    assert control_character("a\rb", multiline=True) == "U+000D"


def test_free_text_is_refused_only_from_outside() -> None:
    adapter = TypeAdapter(OneLineText)
    assert adapter.validate_python("Acme\x1b[2J") == "Acme\x1b[2J"  # read back from storage as it is
    with pytest.raises(ValidationError, match="control character U\\+001B"):
        adapter.validate_python("Acme\x1b[2J", context=INPUT)
