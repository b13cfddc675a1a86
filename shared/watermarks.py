"""How far the reconcile has read each subscription's change feed, in Azure Table Storage.

Who calls it: through shared.storage.StateStore, which is a WatermarkTable (the reconcile's timer reads
and advances it; tests/contract holds it to the Watermarks port).

Table schema (the Seen table, opened by StateStore): PK `@watermark` (no workspace name starts with
`@`), RK the key (`feed|{subscription}` or `full-pass`), field `at` (ISO time). Upserted: the timer
is the only writer, one at a time.
"""

from __future__ import annotations

from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.entities import iso, parse_iso

PARTITION = "@watermark"


class WatermarkTable:
    seen: TableClient

    def watermark(self, key: str) -> datetime | None:
        try:
            entity = self.seen.get_entity(partition_key=PARTITION, row_key=key)
        except ResourceNotFoundError:
            return None
        return parse_iso(str(entity["at"]))

    def advance(self, key: str, at: datetime) -> None:
        self.seen.upsert_entity(
            {"PartitionKey": PARTITION, "RowKey": key, "at": iso(at)}, mode=UpdateMode.REPLACE
        )
