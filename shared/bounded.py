"""Bounded parsers for input from outside: JSON, YAML and free text that cannot blow RegSync up.

Who calls it: the HTTP API (`shared.api`, request bodies), Event Grid parsing (`shared.events`, which
also bounds the fields it passes on), the policy file (`shared.policy_file`, YAML), the domain's free
text types (`shared.domain`) and the CLI's output (`shared.cli.application`, which escapes what may
already be stored). The local host's Event Grid webhook should parse deliveries with `load_json` too.

Every limit is checked BEFORE the structure is built: a document nested 100,000 deep, a "billion
laughs" of YAML aliases or a NUL byte is refused in linear time with an InvalidInputError (HTTP 400)
that names the limit. Pure: no I/O, no Azure import.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from pydantic import ValidationInfo

from shared.errors import InvalidInputError

DEFAULT_MAX_JSON_DEPTH = 32  # the default of REGSYNC_MAX_JSON_DEPTH (shared.settings)
MAX_YAML_DEPTH = 32  # a policy document needs 6 levels (push[0].targets.workspaces[0] is 4)
MAX_SHOWN = 80  # characters of a hostile value quoted back in a message
# Validation context of values that come from outside (policy files, CLI arguments, request bodies):
# `Model.model_validate(data, context=INPUT)` refuses control characters in free text.
FROM_OUTSIDE = "from_outside"
INPUT = {FROM_OUTSIDE: True}

# Characters a terminal or a log viewer would act on instead of showing: C0 and C1 controls, DEL, the
# line and paragraph separators and the bidirectional overrides ("Trojan source").
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Free text that may span lines (descriptions) keeps tab and newline, and nothing else of the above.
MULTILINE_CONTROL_CHARACTERS = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# What the YAML reader itself refuses (yaml.reader.Reader.NON_PRINTABLE), so its ReaderError never
# escapes: it carries no line and used to become a 500.
_YAML_UNREADABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_JSON_STRUCTURE = re.compile(r'[\\"\[\]{}]')
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: faster


# --- free text ------------------------------------------------------------------------------------------


def escaped(text: str) -> str:
    """`text` with every control character shown as an escape (`\\x1b`), for terminals and logs."""
    return CONTROL_CHARACTERS.sub(lambda match: repr(match.group())[1:-1], text)


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """A hostile value quoted back in a message: escaped and cut to `limit` characters."""
    text = escaped(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first control character of `text` as `U+001B`, or None when there is none."""
    pattern = MULTILINE_CONTROL_CHARACTERS if multiline else CONTROL_CHARACTERS
    match = pattern.search(text)
    return f"U+{ord(match.group()):04X}" if match else None


def single_line(text: str, info: ValidationInfo) -> str:
    """Pydantic validator of one-line free text (display names, approvers): no control characters."""
    return _refuse_control(text, info, multiline=False)


def multiline(text: str, info: ValidationInfo) -> str:
    """Pydantic validator of free text that may span lines (descriptions): tab and newline only."""
    return _refuse_control(text, info, multiline=True)


def _refuse_control(text: str, info: ValidationInfo, *, multiline: bool) -> str:
    # Input is refused; what storage already holds is read back as it is (and escaped on output), so
    # that one bad row written before this check cannot make every later read fail.
    if not (info.context or {}).get(FROM_OUTSIDE):
        return text
    found = control_character(text, multiline=multiline)
    if found:
        raise ValueError(f"control character {found} is not allowed in free text")
    return text


# --- JSON -----------------------------------------------------------------------------------------------


class _DuplicateKeyError(ValueError):
    pass


def load_json(data: bytes | str, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH, what: str = "the body") -> Any:
    """`data` parsed as JSON (UTF-8), or InvalidInputError naming the limit or the problem.

    Refused: nesting deeper than `max_depth` (checked before parsing, in one pass over the text),
    duplicate keys in an object, NaN and Infinity (not JSON), text that is not UTF-8 or not JSON.
    The caller bounds the size (HTTP: REGSYNC_MAX_BODY_BYTES) before calling.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InvalidInputError(f"{what} is not UTF-8 text") from None
    depth = json_depth(text, stop_above=max_depth)
    if depth > max_depth:
        raise InvalidInputError(
            f"{what} is nested deeper than {max_depth} levels (setting REGSYNC_MAX_JSON_DEPTH)"
        )
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _DuplicateKeyError as error:
        raise InvalidInputError(f"{what} has the key `{error}` twice in one object") from None
    except ValueError as error:  # bad JSON, NaN, and integers longer than Python's 4300 digits
        raise InvalidInputError(f"{what} is not valid JSON: {shown(str(error), 200)}") from None


def json_depth(text: str, *, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in JSON `text`, ignoring brackets inside strings.

    Linear, and it stops as soon as the depth exceeds `stop_above`. Malformed text is measured anyway
    (json.loads refuses it afterwards).
    """
    depth = deepest = 0
    in_string = False
    escaped_until = -1
    for match in _JSON_STRUCTURE.finditer(text):
        position, char = match.start(), match.group()
        if position < escaped_until:
            continue  # the character after a backslash
        if in_string:
            if char == "\\":
                escaped_until = position + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(shown(key))
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# --- YAML -----------------------------------------------------------------------------------------------


class YamlRefusedError(ValueError):
    """A YAML document refused before it was composed: the 1-based line (0: the whole text) and why."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def compose_yaml(text: str, *, max_bytes: int, max_depth: int = MAX_YAML_DEPTH) -> yaml.Node | None:
    """The node tree of one YAML document, after the checks that keep composing it cheap.

    Refused (YamlRefusedError): more than `max_bytes` bytes; characters the YAML reader cannot read (NUL and
    other controls); any anchor or alias (`&a`, `*a`, and so `<<` merges): they are what makes a
    "billion laughs" or a recursive document, and a policy never needs them; nesting deeper than
    `max_depth`. The checks run on the event stream, before any node exists. Syntax errors raise
    yaml.MarkedYAMLError as usual.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise YamlRefusedError(0, f"the document has {size} bytes; the limit is {max_bytes}")
    unreadable = _YAML_UNREADABLE.search(text)
    if unreadable:
        line = text.count("\n", 0, unreadable.start()) + 1
        code = f"U+{ord(unreadable.group()):04X}"
        raise YamlRefusedError(
            line, f"control character {code} is not allowed (write it escaped, or not at all)"
        )
    _check_events(text, max_depth)
    loader = _Loader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()


def construct_yaml(node: yaml.Node | None) -> object:
    """The Python value of a node from `compose_yaml` (safe tags only)."""
    if node is None:
        return None
    return yaml.SafeLoader("").construct_document(node)


def _check_events(text: str, max_depth: int) -> None:
    """Anchors, aliases and depth, from the parser's event stream (iterative: no recursion, no nodes)."""
    try:
        _scan_events(text, max_depth)
    except yaml.MarkedYAMLError as error:
        # libyaml looks ahead up to 1,024 characters for a key and refuses flow nesting past 1,000
        # levels itself, before our count sees the events: the same refusal, with our limit.
        if "nesting depth" not in str(error.problem):
            raise
        line = error.problem_mark.line + 1 if error.problem_mark else 0
        raise YamlRefusedError(line, f"the document is nested deeper than {max_depth} levels") from None


def _scan_events(text: str, max_depth: int) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent):
            raise YamlRefusedError(
                line, f"aliases (`*{shown(str(event.anchor))}`) are not allowed in a policy"
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise YamlRefusedError(line, f"anchors (`&{shown(str(anchor))}`) are not allowed in a policy")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise YamlRefusedError(line, f"the document is nested deeper than {max_depth} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
