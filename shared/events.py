"""Event Grid notifications -> what RegSync should look at. Pure: no I/O, no Azure import.

Who calls it: the Event Grid trigger adapter, with the event as a plain mapping (Event Grid schema or
CloudEvents 1.0). Parsing is strict where it matters and lenient where Azure is inconsistent: field
casing differs between the docs and the SDK typings and versions come as int or string, so the subject
is the truth. Events are hints only; the timer reconcile is what guarantees convergence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

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
    if len(event_id) > MAX_EVENT_ID:
        raise InvalidInputError(f"event id is longer than {MAX_EVENT_ID} characters")
    event_type = _text(raw, "type" if cloud else "eventType")
    topic = _text(raw, "source" if cloud else "topic")
    subject = raw.get("subject", "")
    data = raw.get("data", {})
    data = {} if data is None else data
    if not isinstance(subject, str) or not isinstance(data, Mapping):
        raise InvalidInputError(f"event `{event_id}`: subject must be text and data an object")
    return event_id, event_type, topic, subject, data


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"event field `{key}` is missing or not text")
    return value


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
    if not isinstance(tags, Mapping):
        raise InvalidInputError(f"event `{event_id}`: model tags must be an object")
    return {str(key): str(value) for key, value in tags.items()}


def _lower_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in data.items()}
