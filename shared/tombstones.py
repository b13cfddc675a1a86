"""Recalled registry versions (tombstones) in Azure Table Storage.

Who calls it: through shared.storage.StateStore, which is a TombstoneTable (the engine's apply buries,
the world and the push worker read; tests/contract holds it to the Tombstones port).

Table schema (the Inventory table, opened by StateStore):

- Inventory, PK `recalled`, RK `{kind}:{name}:{version}` of the registry asset, fields `actor`,
  `reason`, `at` (ISO time), `tenant` ("" for the provider), `correlation_id`. Inserted if absent, never
  updated or deleted by RegSync: the first recall's record stands. The list is one partition query
  (the world reads it with the rules), a single version a point read (the push worker, just before it
  acts).
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient

from shared.entities import iso, parse_iso
from shared.records import Tombstone, utc_now

PARTITION = "recalled"


class TombstoneTable:
    inventory: TableClient

    def bury(self, tombstone: Tombstone) -> Tombstone:
        try:
            self.inventory.create_entity(_entity(tombstone))
        except ResourceExistsError:
            found = self.tombstone(tombstone.asset_key)
            if found is not None:
                return found
        return tombstone

    def tombstone(self, asset_key: str) -> Tombstone | None:
        try:
            entity = self.inventory.get_entity(partition_key=PARTITION, row_key=asset_key)
        except ResourceNotFoundError:
            return None
        return _tombstone(entity)

    def tombstones(self) -> list[Tombstone]:
        entities = self.inventory.query_entities("PartitionKey eq @pk", parameters={"pk": PARTITION})
        return [_tombstone(entity) for entity in entities]


def _entity(tombstone: Tombstone) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": tombstone.asset_key,
        "actor": tombstone.actor,
        "reason": tombstone.reason,
        "at": iso(tombstone.at),
        "tenant": tombstone.tenant,
        "correlation_id": tombstone.correlation_id,
    }


def _tombstone(entity: Any) -> Tombstone:
    return Tombstone(
        asset_key=str(entity["RowKey"]),
        actor=str(entity.get("actor", "")),
        reason=str(entity.get("reason", "")),
        at=parse_iso(entity.get("at")) or utc_now(),
        tenant=str(entity.get("tenant", "")),
        correlation_id=str(entity.get("correlation_id", "")),
    )
