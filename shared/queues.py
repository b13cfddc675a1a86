"""RegSync's work queues in Azure Queue Storage: the push, reconcile and outbox queues.

Who calls it: shared.runtime builds one WorkQueue per queue for the engine (which sees the WorkQueue
port); the contract and integration tests. With shared.storage and shared.audit_log, the only modules
that import the Storage SDKs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from shared.settings import Settings
from shared.transport import storage_transport

SEND_CONCURRENCY = 16  # sends in flight per fan-out: enough for 50 targets in a few round trips


class WorkQueue:
    """A Storage queue whose messages a Functions queue trigger reads (base64 text, JSON body)."""

    def __init__(self, client: QueueClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings, name: str) -> WorkQueue:
        settings.require_storage()
        policy = TextBase64EncodePolicy()
        if settings.storage_connection_string:
            service = QueueServiceClient.from_connection_string(
                settings.storage_connection_string,
                message_encode_policy=policy,
                transport=storage_transport(),
            )
        else:
            from azure.identity import DefaultAzureCredential

            url = f"https://{settings.storage_account_name}.queue.core.windows.net"
            service = QueueServiceClient(
                url,
                credential=DefaultAzureCredential(),
                message_encode_policy=policy,
                transport=storage_transport(),
            )
        # The service client does not hand its policies down to its queue clients: the Functions host
        # reads base64 text (host.json messageEncoding), so the queue client itself must encode.
        return cls(
            service.get_queue_client(
                name, message_encode_policy=policy, message_decode_policy=TextBase64DecodePolicy()
            )
        )

    def ensure(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def send(self, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.client.send_message(json.dumps(body, sort_keys=True), visibility_timeout=delay_seconds or None)

    def send_all(self, bodies: Sequence[dict[str, Any]], *, delay_seconds: int = 0) -> None:
        """Send side by side, at most SEND_CONCURRENCY at once (a Storage queue has no batch send);
        the first error is raised once every send was tried."""
        if len(bodies) < 2:
            for body in bodies:
                self.send(body, delay_seconds=delay_seconds)
            return
        with ThreadPoolExecutor(max_workers=min(SEND_CONCURRENCY, len(bodies))) as pool:
            sends = [pool.submit(self.send, body, delay_seconds=delay_seconds) for body in bodies]
        for sent in sends:
            sent.result()
