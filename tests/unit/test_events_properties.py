"""Property: for ANY JSON-like value, parse_event returns a parsed event or raises InvalidInputError.

Issue 9 §5: a bounded fuzz of the Event Grid webhook found AttributeError, TypeError and RecursionError
on event-like bodies whose `data` or fields had the wrong type. Whatever arrives, the only failure is
InvalidInputError (refused, logged, acknowledged), and what a parsed event carries is bounded and free
of control characters, so it can be audited and logged as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.bounded import control_character
from shared.errors import InvalidInputError
from shared.events import (
    MAX_EVENT_ID,
    MAX_EVENT_TYPE,
    MAX_RESOURCE_ID,
    MODEL_REGISTERED,
    RESOURCE_WRITE_SUCCESS,
    AssetEvent,
    IgnoredEvent,
    parse_event,
)
from tests.unit.test_events import WORKSPACE_ID, cloud_model_registered, docs_model_registered, resource_write

FIELDS = [
    "id",
    "topic",
    "subject",
    "eventType",
    "data",
    "specversion",
    "source",
    "type",
    "eventTime",
    "dataVersion",
]
DATA_FIELDS = ["ModelName", "modelVersion", "ModelTags", "modelTags", "resourceUri", "validationCode"]
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS + DATA_FIELDS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)
texts = st.sampled_from(
    [
        "",
        "x" * 70_000,
        "models/m:1",
        "models/m:1\x00",
        "a\x1b[31m",
        WORKSPACE_ID,
        WORKSPACE_ID + "/models/m/versions/1",
        MODEL_REGISTERED,
        RESOURCE_WRITE_SUCCESS,
        "Microsoft.EventGrid.SubscriptionValidationEvent",
    ]
)
VALID = [
    docs_model_registered(),
    cloud_model_registered(),
    resource_write(WORKSPACE_ID + "/environments/env/versions/3", "write"),
]


DEEP_LEVELS = st.sampled_from([50, 5_000, 50_000])


def deep(levels: int, leaf: Any) -> Any:
    for index in range(levels):
        leaf = {"k": leaf} if index % 2 else [leaf]
    return leaf


@st.composite
def mutated_events(
    draw: st.DrawFn,
    levels: st.SearchStrategy[int] = DEEP_LEVELS,
    fields: tuple[str, ...] = tuple(FIELDS),
) -> Any:
    """A valid event from the tests with a few of `fields` (or of its data) replaced, removed or nested
    `levels` deep. The e2e fuzz (tests/e2e/test_fuzz.py) nests less: what it sends must encode as JSON."""
    event = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        target = event
        if draw(st.booleans()) and isinstance(event.get("data"), dict):
            target = event["data"]
            key = draw(st.sampled_from(DATA_FIELDS + list(target)))
        else:
            key = draw(st.sampled_from(fields))
        action = draw(st.sampled_from(["replace", "text", "delete", "deep"]))
        if action == "delete":
            target.pop(key, None)
        elif action == "deep":
            target[key] = deep(draw(levels), draw(scalars))
        else:
            target[key] = draw(json_like if action == "replace" else texts)
    return event


def parse_or_refuse(value: Any) -> None:
    try:
        parsed = parse_event(value)
    except InvalidInputError as error:
        assert len(str(error)) < 1_000
        return
    assert isinstance(parsed, AssetEvent | IgnoredEvent)
    assert len(parsed.event_id) <= MAX_EVENT_ID and len(parsed.event_type) <= MAX_EVENT_TYPE
    kept = [parsed.event_id, parsed.event_type]
    if isinstance(parsed, IgnoredEvent):
        assert len(parsed.subject) <= MAX_RESOURCE_ID
        kept += [parsed.subject, parsed.reason]
    else:
        kept += [parsed.workspace_arm_id, *parsed.tags, *parsed.tags.values()]
    assert not any(control_character(text) for text in kept)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_like)
def test_any_json_like_value_is_parsed_or_refused(value: Any) -> None:
    parse_or_refuse(value)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_any_mutation_of_a_valid_event_is_parsed_or_refused(event: Any) -> None:
    parse_or_refuse(event)
