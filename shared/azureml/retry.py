"""AzureML's throttling (429) and outages (5xx) retried in-process briefly, the rest left to the queue.

The SDK's clients retry with azure-core's RetryPolicy: by default up to 10 times, sleeping whatever
Retry-After asks (for any method once the header is there), else 0.8 s x 2^n up to 120 s, without
jitter. A function invocation would then hold its worker for minutes. RegSync's clients retry a few
times, with jittered exponential backoff (so 50 pushes throttled at once do not come back at once), and
only while Retry-After is short: a longer one raises at once, and shared.errors.judge turns it into a
temporary failure that the queue re-sends with that delay (the message's visibility timeout).
"""

from __future__ import annotations

import random
from typing import Any

from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse

IN_PROCESS_RETRIES = 3
IN_PROCESS_MAX_WAIT_S = 4.0  # a Retry-After up to this is slept in-process; longer goes to the queue
BACKOFF_FACTOR_S = 0.25  # 0.25, 0.5, 1 s, each jittered down by up to half


class BriefRetry(RetryPolicy[HttpRequest, HttpResponse]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            retry_total=IN_PROCESS_RETRIES,
            retry_backoff_factor=BACKOFF_FACTOR_S,
            retry_backoff_max=IN_PROCESS_MAX_WAIT_S,
            **kwargs,
        )

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        wait = self.get_retry_after(response)
        if wait is not None and wait > IN_PROCESS_MAX_WAIT_S:
            return False
        return bool(super().is_retry(settings, response))

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        return float(super().get_backoff_time(settings)) * random.uniform(0.5, 1.0)
