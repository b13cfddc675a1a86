"""Event Grid notifications -> what RegSync should look at. Pure: no I/O, no Azure import.

Who calls it: the Event Grid trigger adapter, with the event as a plain mapping (Event Grid schema or
CloudEvents 1.0). Parsing is strict where it matters and lenient where Azure is inconsistent: field
casing differs between the docs and the SDK typings and versions come as int or string, so the subject
is the truth. Events are hints only; the timer reconcile is what guarantees convergence.

Anything else is InvalidInputError, never another exception, whatever the shape of the input (a
property test holds it to that): every text field RegSync keeps (id, type, topic, subject, the
resource URI; they reach audit records and log lines) is bounded and free of control characters
before it is used, and the only part of `data` walked into, the model tags, must be flat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.bounded import control_character
from shared.domain import AssetKind, AssetRef, parse_workspace_arm_id, workspace_arm_id
from shared.errors import InvalidInputError

MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"
RESOURCE_WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
_MODEL_SUBJECT = re.compile(r"^models/(?P<name>[^:/]+):(?P<version>[^:/]+)$")
_ASSET_URI = re.compile(
    r"/workspaces/[^/]+/(?P<plural>models|environments|components|data)/(?P<name>[^/]+)"
    r"/versions/(?P<version>[^/]+)$",
    re.IGNORECASE,
)
_PLURALS = {"models": AssetKind.MODEL, "environments": AssetKind.ENVIRONMENT}
_PLURALS |= {"components": AssetKind.COMPONENT, "data": AssetKind.DATA}
MAX_EVENT_ID = 256
MAX_EVENT_TYPE = 256
MAX_RESOURCE_ID = 1024  # topic, source, subject and data.resourceUri: ARM ids are far shorter
MAX_TAGS = 256
MAX_TAG_TEXT = 4096
_LIMITS = {"id": MAX_EVENT_ID, "eventType": MAX_EVENT_TYPE, "type": MAX_EVENT_TYPE}


@dataclass(frozen=True)
class AssetEvent:
    """A new asset version in a workspace, as announced by an event."""

    event_id: str
    event_type: str
    workspace_arm_id: str
    ref: AssetRef
    tags: Mapping[str, str]


@dataclass(frozen=True)
class IgnoredEvent:
    """A well-formed event RegSync does not act on, and why (acknowledged and audited)."""

    event_id: str
    event_type: str
    subject: str
    reason: str


def parse_event(raw: Mapping[str, Any]) -> AssetEvent | IgnoredEvent:
    """Turn one Event Grid or CloudEvents event into an AssetEvent, an IgnoredEvent, or InvalidInputError."""
    envelope = _envelope(raw)
    event_id, event_type, topic, subject, data = envelope
    if event_type == MODEL_REGISTERED:
        return _model_registered(event_id, topic, subject, data)
    if event_type == RESOURCE_WRITE_SUCCESS:
        return _resource_write(event_id, subject, data)
    return IgnoredEvent(
        event_id, event_type, subject, f"event type `{event_type}` is not one RegSync handles"
    )


def _envelope(raw: Mapping[str, Any]) -> tuple[str, str, str, str, Mapping[str, Any]]:
    if not isinstance(raw, Mapping):
        raise InvalidInputError("an event must be a JSON object")
    cloud = "specversion" in raw
    event_id = _text(raw, "id")
    event_type = _text(raw, "type" if cloud else "eventType")
    topic = _text(raw, "source" if cloud else "topic")
    subject = _text(raw, "subject", required=False)
    data = raw.get("data", {})
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"event `{event_id}`: data must be an object, not {_kind(data)}")
    return event_id, event_type, topic, subject, data


def _text(raw: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        value = ""  # absent or null alike: the Functions binding cannot tell them apart
    if not isinstance(value, str) or (required and not value):
        raise InvalidInputError(f"event field `{key}` is missing or not text")
    return _bounded(value, f"event field `{key}`", _LIMITS.get(key, MAX_RESOURCE_ID))


def _bounded(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidInputError(f"{what} is longer than {limit} characters")
    found = control_character(value)
    if found:
        raise InvalidInputError(f"{what} contains the control character {found}")
    return value


def _kind(value: object) -> str:
    return {list: "a list", str: "text", bool: "a boolean"}.get(type(value), "a number or other value")


def _model_registered(event_id: str, topic: str, subject: str, data: Mapping[str, Any]) -> AssetEvent:
    workspace = parse_workspace_arm_id(topic)
    match = _MODEL_SUBJECT.match(subject)
    if workspace is None or match is None:
        raise InvalidInputError(
            f"event `{event_id}`: ModelRegistered needs a workspace topic and a subject "
            f"`models/NAME:VERSION`, got topic `{topic[:200]}` and subject `{subject[:200]}`"
        )
    tags = _lower_keys(data).get("modeltags") or {}
    ref = _asset_ref(event_id, AssetKind.MODEL, match["name"], match["version"])
    return AssetEvent(event_id, MODEL_REGISTERED, workspace_arm_id(*workspace), ref, _tags(event_id, tags))


def _resource_write(event_id: str, subject: str, data: Mapping[str, Any]) -> AssetEvent | IgnoredEvent:
    # The subject is the truth; data.resourceUri only stands in when the subject is empty.
    uri = subject or _lower_keys(data).get("resourceuri")
    if not isinstance(uri, str):
        raise InvalidInputError(f"event `{event_id}`: the subject or data.resourceUri must be text")
    uri = _bounded(uri, f"event `{event_id}`: data.resourceUri", MAX_RESOURCE_ID)
    workspace = parse_workspace_arm_id(uri)
    match = _ASSET_URI.search(uri)
    if workspace is None or match is None:
        reason = "the written resource is not an asset version in a workspace"
        return IgnoredEvent(event_id, RESOURCE_WRITE_SUCCESS, uri[:300], reason)
    kind = _PLURALS[match["plural"].lower()]
    ref = _asset_ref(event_id, kind, match["name"], match["version"])
    return AssetEvent(event_id, RESOURCE_WRITE_SUCCESS, workspace_arm_id(*workspace), ref, {})


def _asset_ref(event_id: str, kind: AssetKind, name: str, version: str) -> AssetRef:
    try:
        return AssetRef(kind=kind, name=name, version=version)
    except ValidationError as error:
        problem = error.errors()[0]
        raise InvalidInputError(
            f"event `{event_id}`: asset {problem['loc'][0]} is not valid: {problem['msg']}"
        ) from None


def _tags(event_id: str, tags: object) -> dict[str, str]:
    """Flat text tags: a nested value is refused, never turned into text (str() of a deep structure
    recurses)."""
    if not isinstance(tags, Mapping):
        raise InvalidInputError(f"event `{event_id}`: model tags must be an object")
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"event `{event_id}`: more than {MAX_TAGS} model tags")
    flat: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
            raise InvalidInputError(f"event `{event_id}`: model tags must map text to text")
        flat[_bounded(key, f"event `{event_id}`: a model tag", MAX_TAG_TEXT)] = _bounded(
            str(value), f"event `{event_id}`: a model tag value", MAX_TAG_TEXT
        )
    return flat


def _lower_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in data.items()}
