"""A claim kept alive while its work runs: shared.ledger's short lease, renewed.

Who uses it: apply, around the AzureML call a claimed share or push makes. While the call runs, a
thread renews the row every `every` seconds, each write conditional on the row's ETag, so a live worker's
row is never taken over and a crashed worker's row is taken over one lease after its last renewal.

- Never twice at once: leaving the block stops the thread and waits for a renewal in flight, so the
  settlement is the only write after it, made on the latest renewal (`row`).
- Never lost: `watch` (a push's watch message, delayed by the lease) is sent first, from the thread, so
  a crashed worker's claim is taken over one lease after its last renewal, however long the host keeps
  the original message in flight (the Functions host leases a message for 10 minutes). A renewal that
  loses the ETag race (the row was taken over, or moved on) stops renewing and leaves the row alone;
  the settlement's re-base (apply `_finish`) then decides. A renewal that fails otherwise (a storage
  blip) is tried again at the next period, while the lease still runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from shared.errors import judge
from shared.ledger import renewed
from shared.ports import Clock, ConcurrentUpdateError, Ledger
from shared.records import LedgerEntry

log = logging.getLogger("regsync.lease")


class Lease:
    """`with Lease(ledger, claimed, clock, every):` renews `claimed` until the block ends; then `row`."""

    def __init__(
        self,
        ledger: Ledger,
        claimed: LedgerEntry,
        clock: Clock,
        every: float,
        *,
        watch: Callable[[], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._watch = watch
        self._row = claimed
        self._clock = clock
        self._every = every
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def row(self) -> LedgerEntry:
        """The claimed row as last written (its latest ETag): what the settlement replaces."""
        with self._lock:
            return self._row

    def __enter__(self) -> Lease:
        name = f"lease {self._row.asset_key} -> {self._row.target}"
        self._thread = threading.Thread(target=self._renew_until_stopped, name=name, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _renew_until_stopped(self) -> None:
        if self._watch is not None:  # off the work's critical path: it only matters after a crash
            try:
                self._watch()
            except Exception as error:
                log.warning(
                    "could not send the watch of ledger row %s -> %s: %s", *self._key, judge(error).message
                )
        while not self._stopped.wait(self._every):
            with self._lock:
                if self._stopped.is_set():
                    return
                try:
                    self._row = self._ledger.update_entry(renewed(self._row, self._clock()))
                except ConcurrentUpdateError:
                    log.warning("ledger row %s -> %s was taken over; no longer renewed", *self._key)
                    return
                except Exception as error:  # the next period tries again while the lease runs
                    log.warning("could not renew ledger row %s -> %s: %s", *self._key, judge(error).message)

    @property
    def _key(self) -> tuple[str, str]:
        return self._row.asset_key, self._row.target
