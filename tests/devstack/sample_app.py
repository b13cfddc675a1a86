"""A tiny function app that exercises every trigger the local host supports (devstack tests only).

Loaded by tests/devstack in-process (`build_host(sample_app.app)`) and as a subprocess
(`python -m devstack.host --app tests.devstack.sample_app:app`). Effects it records:
- Event Grid and timer invocations in module-level lists (visible to in-process tests);
- processed queue messages as a copy on the queue named by the message's `reply_to`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_lock = threading.Lock()
EVENTS_SEEN: list[tuple[str, str]] = []  # (event id, event type) of events handled successfully
TIMER_RUNS: list[bool] = []  # past_due of each timer run
FAILED_ATTEMPTS: list[tuple[str, int]] = []  # (message id, dequeue count) of each failed queue invocation


@app.route(route="greet/{name}/{suffix?}", methods=["GET", "POST"])
def greet(req: func.HttpRequest) -> func.HttpResponse:
    reply = {
        "method": req.method,
        "route": dict(req.route_params),
        "params": dict(req.params),
        "body": req.get_body().decode(),
        "principal": req.headers.get("x-ms-client-principal"),
    }
    return func.HttpResponse(json.dumps(reply), status_code=200, mimetype="application/json")


@app.route(route="health", auth_level=func.AuthLevel.ANONYMOUS, methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok", headers={"X-Sample": "yes"})


@app.event_grid_trigger(arg_name="event")
def on_sample_event(event: func.EventGridEvent) -> None:
    subject = getattr(event, "subject", None) or ""
    if "fail" in subject:
        raise RuntimeError(f"sample failure for {subject}")
    kind = event.event_type if isinstance(event, func.EventGridEvent) else event.type
    with _lock:
        EVENTS_SEEN.append((event.id, kind))


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="AzureWebJobsStorage")
def on_sample_message(msg: func.QueueMessage) -> None:
    text = msg.get_body().decode()
    if "boom" in text:
        with _lock:
            FAILED_ATTEMPTS.append((msg.id, msg.dequeue_count or 0))
        raise RuntimeError(f"sample failure on attempt {msg.dequeue_count}")
    reply_to = json.loads(text)["reply_to"]
    reply = QueueClient.from_connection_string(
        os.environ["AzureWebJobsStorage"],  # noqa: SIM112 (the Functions setting name)
        reply_to,
        message_encode_policy=TextBase64EncodePolicy(),
    )
    with contextlib.suppress(ResourceExistsError):
        reply.create_queue()
    reply.send_message(json.dumps({"body": text, "dequeue_count": msg.dequeue_count, "id": msg.id}))


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_TIMER_SCHEDULE%", run_on_startup=False)
def sample_tick(timer: func.TimerRequest) -> None:
    with _lock:
        TIMER_RUNS.append(timer.past_due)
