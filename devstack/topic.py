"""A local Event Grid custom topic: where RegSync publishes its own events when it runs on the local stack.

Started by `devstack.stack` (`python -m devstack up`, `local_stack`) as the `topic` component; the host
gets `REGSYNC_EVENTGRID_TOPIC_ENDPOINT`/`REGSYNC_EVENTGRID_TOPIC_KEY` pointing here, so shared.notify's
`EventGridPublisherClient` publishes unchanged. Tests and the demo read what arrived with `GET /events`.

Behaves like an Event Grid basic topic with the Event Grid input schema:
- `POST /api/events` with header `aeg-sas-key: KEY` (what `AzureKeyCredential` sends): 401 without or
  with a wrong key; the body is a JSON array of Event Grid events (id, subject, eventType, eventTime,
  data, dataVersion), else 400; over 1 MB, 413; accepted: 200 with an empty body (the client treats
  anything but 200 as a failure).
- `GET /events[?type=T&subject=S]`: the accepted events, oldest first, as `{"value": [...]}`. No key:
  it binds to loopback only, like the emulator's `/_admin` routes.

Run: `REGSYNC_EVENTGRID_TOPIC_KEY=... python -m devstack.topic --port 7072` (the key comes from the
environment so that it never appears in a command line or in stack.json).
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import sys
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

KEY_ENV = "REGSYNC_EVENTGRID_TOPIC_KEY"
KEY_HEADER = "aeg-sas-key"
PUBLISH_PATH = "/api/events"
LIST_PATH = "/events"
MAX_BATCH_BYTES = 1_048_576  # Event Grid's limit for one publish request
REQUIRED_FIELDS = ("id", "subject", "eventType", "eventTime", "data", "dataVersion")

log = logging.getLogger("devstack.topic")


class ReceivedEvents:
    """The events accepted so far, in arrival order; safe to use from several threads."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self._events.extend(events)

    def matching(self, event_type: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            events = list(self._events)
        return [
            event
            for event in events
            if (event_type is None or event["eventType"] == event_type)
            and (subject is None or event["subject"] == subject)
        ]


def validate_batch(body: bytes) -> list[dict[str, Any]]:
    """The events of a publish request, or ValueError naming what is wrong (the topic answers 400)."""
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise ValueError(f"the body is not JSON: {error}") from None
    if not isinstance(payload, list) or not payload:
        raise ValueError("the body must be a non-empty JSON array of Event Grid events")
    for index, event in enumerate(payload):
        if not isinstance(event, dict):
            raise ValueError(f"event {index} is not a JSON object")
        missing = [name for name in REQUIRED_FIELDS if name not in event]
        if missing:
            raise ValueError(f"event {index} lacks required field(s): {', '.join(missing)}")
    return payload


def build_topic_app(key: str) -> Starlette:
    """The topic as an ASGI app that accepts publishes signed with `key`; `app.state.events` holds them."""
    if not key:
        raise ValueError("the topic needs a non-empty key")
    received = ReceivedEvents()

    async def publish(request: Request) -> Response:
        presented = request.headers.get(KEY_HEADER, "").encode()
        if not hmac.compare_digest(presented, key.encode()):
            return PlainTextResponse(f"missing or wrong `{KEY_HEADER}` header", status_code=401)
        body = await request.body()
        if len(body) > MAX_BATCH_BYTES:
            return PlainTextResponse("the batch exceeds 1 MB", status_code=413)
        try:
            events = validate_batch(body)
        except ValueError as error:
            return PlainTextResponse(str(error), status_code=400)
        received.add(events)
        for event in events:
            log.info("received %s for %s (id %s)", event["eventType"], event["subject"], event["id"])
        return Response(status_code=200)

    async def listing(request: Request) -> Response:
        params = request.query_params
        return JSONResponse({"value": received.matching(params.get("type"), params.get("subject"))})

    app = Starlette(
        routes=[
            Route(PUBLISH_PATH, publish, methods=["POST"]),
            Route(LIST_PATH, listing, methods=["GET"]),
        ]
    )
    app.state.events = received
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn  # only the command line needs the server

    parser = argparse.ArgumentParser(prog="python -m devstack.topic", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    key = os.environ.get(KEY_ENV, "")
    if not key:
        sys.exit(f"set {KEY_ENV} to the key publishers must present")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    log.info("topic on http://127.0.0.1:%d%s", args.port, PUBLISH_PATH)
    uvicorn.run(build_topic_app(key), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
