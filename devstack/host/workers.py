"""Background triggers: one queue worker per queue-triggered function (retry by visibility, poison after
`maxDequeueCount`) and one timer per timer-triggered function (NCRONTAB or `hh:mm:ss`, in UTC).

`LocalHost` (devstack/host/http.py) starts a `Workers` in its lifespan and stops it on shutdown; tests
use `queue_client` to send messages the way the app does.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import cast

from azure.core.exceptions import ResourceExistsError
from azure.functions import queue as func_queue
from azure.functions import timer as func_timer
from azure.storage.queue import (
    QueueClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)
from azure.storage.queue import QueueMessage as StorageQueueMessage
from croniter import CroniterBadDateError, CroniterError, croniter

from devstack.host.config import DEFAULT_CONNECTION, HostConfig, parse_timespan, resolve_setting
from devstack.host.discovery import FunctionSpec, invoke_logged

log = logging.getLogger("devstack.host")  # one logger for the whole host, named as before the split

# How long a message being processed stays invisible; the real host renews a 10-minute lease.
IN_FLIGHT_VISIBILITY_SECONDS = 300
FIRST_POLL_SECONDS = 0.1


# ---------------------------------------------------------------------------------------------------
# Schedules: six-field NCRONTAB `{second} {minute} {hour} {day} {month} {day-of-week}`, or `hh:mm:ss`
# ---------------------------------------------------------------------------------------------------

_TIMESPAN_SCHEDULE = re.compile(r"^\d+:\d{2}:\d{2}$")


def next_fire_time(schedule: str, after: datetime) -> datetime:
    """The first time strictly after `after` (same tzinfo) that a timer fires: NCRONTAB, or an
    `hh:mm:ss` interval (the App Service plan form).

    NCRONTAB through croniter: the seconds field first, and day-of-month and day-of-week must both match
    (NCrontab's rule, unlike Vixie cron's "either"). croniter also takes 5 and 7 fields; NCRONTAB does not.
    """
    if _TIMESPAN_SCHEDULE.match(schedule):
        return after + timedelta(seconds=parse_timespan(schedule))
    if len(schedule.split()) != 6:
        raise ValueError(f"NCRONTAB `{schedule}` needs 6 fields (second minute hour day month weekday)")
    try:
        fire_times = croniter(schedule, after, day_or=False, second_at_beginning=True)
        return cast(datetime, fire_times.get_next(datetime))
    except CroniterBadDateError as error:
        raise ValueError(f"NCRONTAB `{schedule}` never fires") from error
    except CroniterError as error:
        raise ValueError(f"NCRONTAB `{schedule}` is not valid: {error}") from error


# ---------------------------------------------------------------------------------------------------
# Queue workers and timers
# ---------------------------------------------------------------------------------------------------


def to_functions_message(message: StorageQueueMessage) -> func_queue.QueueMessage:
    """The object the Python worker hands a queue-triggered function."""
    return func_queue.QueueMessage(
        id=message.id,
        body=message.content,
        dequeue_count=message.dequeue_count,
        pop_receipt=message.pop_receipt,
        insertion_time=message.inserted_on,
        expiration_time=message.expires_on,
        time_next_visible=message.next_visible_on,
    )


def queue_client(connection_string: str, queue_name: str) -> QueueClient:
    return QueueClient.from_connection_string(
        connection_string,
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )


class QueueWorker:
    """Polls one queue for one function: delete on success, retry via visibility, poison after N tries."""

    def __init__(
        self,
        spec: FunctionSpec,
        client: QueueClient,
        poison: QueueClient,
        config: HostConfig,
        stop: threading.Event,
    ) -> None:
        self.spec, self.client, self.poison, self.config, self.stop = spec, client, poison, config, stop
        # As the Functions host: a batch of `batchSize`, and the next one fetched as soon as no more than
        # `newBatchThreshold` messages still run, so one slow message never holds up the rest.
        self.pool = ThreadPoolExecutor(
            max_workers=config.batch_size + config.new_batch_threshold,
            thread_name_prefix=f"queue-{spec.name}",
        )
        self._running = 0
        self._settled = threading.Condition()

    def prepare(self) -> None:
        """Create the queue before the host reports started, so senders never race the worker."""
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def run(self) -> None:
        delay = FIRST_POLL_SECONDS
        while not self.stop.is_set():
            try:
                handled = self.poll_once()
            except Exception:
                log.exception(
                    "polling queue `%s` for %s failed; retrying", self.client.queue_name, self.spec.name
                )
                handled = 0
            # Back off exponentially while the queue is empty, as the real host does.
            delay = FIRST_POLL_SECONDS if handled else min(delay * 2, self.config.max_polling_interval)
            self.stop.wait(0 if handled else delay)
        self.pool.shutdown(wait=True)

    def poll_once(self) -> int:
        with self._settled:
            while self._running > self.config.new_batch_threshold and not self.stop.is_set():
                self._settled.wait(timeout=self.config.max_polling_interval)
        messages = list(
            self.client.receive_messages(
                max_messages=self.config.batch_size, visibility_timeout=IN_FLIGHT_VISIBILITY_SECONDS
            )
        )
        with self._settled:
            self._running += len(messages)
        for message in messages:
            self.pool.submit(self._run, message)
        return len(messages)

    def _run(self, message: StorageQueueMessage) -> None:
        try:
            self.handle(message)
        finally:
            with self._settled:
                self._running -= 1
                self._settled.notify_all()

    def handle(self, message: StorageQueueMessage) -> None:
        detail = f"message {message.id}, dequeue count {message.dequeue_count}"
        try:
            invoke_logged(self.spec, to_functions_message(message), detail)
        except Exception:
            self.after_failure(message)
        else:
            self.client.delete_message(message.id, message.pop_receipt)

    def after_failure(self, message: StorageQueueMessage) -> None:
        if (message.dequeue_count or 0) >= self.config.max_dequeue_count:
            with contextlib.suppress(ResourceExistsError):
                self.poison.create_queue()
            self.poison.send_message(message.content)
            self.client.delete_message(message.id, message.pop_receipt)
            log.warning(
                "%s: message %s moved to `%s` after %s attempts",
                self.spec.name,
                message.id,
                self.poison.queue_name,
                message.dequeue_count,
            )
            return
        visibility = int(self.config.visibility_timeout)
        self.client.update_message(message.id, message.pop_receipt, visibility_timeout=visibility)


class TimerWorker:
    """Runs one timer function on its schedule (UTC), and once at start when run_on_startup is set."""

    def __init__(self, spec: FunctionSpec, schedule: str, stop: threading.Event) -> None:
        self.spec, self.schedule, self.stop = spec, schedule, stop
        next_fire_time(schedule, datetime.now(UTC))  # fail fast on a bad schedule

    def run(self) -> None:
        if self.spec.trigger.get("runOnStartup"):
            self.fire(past_due=False)
        due = next_fire_time(self.schedule, datetime.now(UTC))
        while not self.stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
            # Late by more than a second (e.g. a slow previous run) counts as past due.
            self.fire(past_due=datetime.now(UTC) - due > timedelta(seconds=1))
            due = next_fire_time(self.schedule, max(due, datetime.now(UTC)))

    def fire(self, *, past_due: bool) -> None:
        with contextlib.suppress(Exception):  # already logged; a failed run never stops the schedule
            invoke_logged(self.spec, func_timer.TimerRequest(past_due=past_due))


class Workers:
    """The background threads of one host: a QueueWorker or TimerWorker per non-HTTP function."""

    def __init__(
        self, functions: Iterable[FunctionSpec], settings: Mapping[str, str], config: HostConfig
    ) -> None:
        self.functions, self.settings, self.config = list(functions), settings, config
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """One thread per queue- or timer-triggered function."""
        self._stop.clear()
        for target, name in self._targets():
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _targets(self) -> Iterable[tuple[Callable[[], None], str]]:
        for spec in self.functions:
            if spec.trigger_type == "queueTrigger":
                worker = self._queue_worker(spec)
                worker.prepare()
                yield worker.run, f"queue-{spec.name}"
            elif spec.trigger_type == "timerTrigger":
                schedule = resolve_setting(str(spec.trigger["schedule"]), self.settings)
                yield TimerWorker(spec, schedule, self._stop).run, f"timer-{spec.name}"
            elif spec.trigger_type not in ("httpTrigger", "eventGridTrigger"):
                log.warning("%s: trigger type `%s` is not supported locally", spec.name, spec.trigger_type)

    def _queue_worker(self, spec: FunctionSpec) -> QueueWorker:
        queue_name = resolve_setting(str(spec.trigger["queueName"]), self.settings)
        connection_setting = str(spec.trigger.get("connection") or DEFAULT_CONNECTION)
        connection = self.settings.get(connection_setting)
        if not connection:
            raise KeyError(f"queue trigger `{spec.name}` needs the connection setting `{connection_setting}`")
        client = queue_client(connection, queue_name)
        poison = queue_client(connection, f"{queue_name}-poison")
        return QueueWorker(spec, client, poison, self.config, self._stop)
