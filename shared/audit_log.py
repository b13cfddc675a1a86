"""RegSync's audit log in Azure Table Storage: append-only records, newest first, per day and per tenant.

Who calls it: through shared.storage.StateStore, which is an AuditTable (the engine's apply writes
records, the API and the CLI read pages, the contract tests hold it to the AuditLog port). Entities are
mapped by shared.entities. Every filter is parameterised (`@name`).

Table schema (table `{prefix}Audit`; its client is opened by StateStore):

- Audit, PK UTC day `YYYYMMDD`, RK `{inverted ticks}-{uuid}`: the provider's view; a day's newest-first
  page is one partition query.
- Audit, PK `t|{tenant}|{YYYYMMDD}`, same RK: a copy of each record concerning that tenant
  (`AuditRecord.tenants`), written by `audit` beside the day's row. A tenant's view is a query of its own
  partition only, so no other tenant's volume can crowd it out. Pages continue after the last RowKey
  returned (`RowKey gt @after`): the continuation token is that RowKey, opaque to clients.
- Audit, PK `once|{YYYYMMDD}`, RK `{record key}|{window number}`: the first identical refusal of a
  refusal window claims this row (insert-if-absent); a later one finds it and is not audited again.

The table is append-only: a record's copies are separate inserts, so a failure between them may leave a
record in the provider's view and not yet in a tenant's; the caller's retry writes both again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from shared.entities import audit_entity, audit_partition, audit_record
from shared.records import AuditRecord, utc_now


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    continuation: str | None  # pass it back for the next page; None: nothing more


class AuditTable:
    """The audit log's operations, on the table client `audit_log` that the store opens."""

    audit_log: TableClient

    def audit(self, record: AuditRecord) -> None:
        """The record in the day's partition and in the partition of each tenant it concerns."""
        entity = audit_entity(record)
        for tenant in (None, *record.tenants):
            self.audit_log.create_entity({**entity, "PartitionKey": audit_partition(record.at, tenant)})

    def audit_page(
        self,
        *,
        day: datetime | None = None,
        tenant: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> AuditPage:
        """One page of a day's records, newest first: the provider's (all) or one tenant's own. One
        partition query; `after` is the continuation token of the page before."""
        query = "PartitionKey eq @pk"
        parameters = {"pk": audit_partition(day or utc_now(), tenant)}
        if after is not None:
            query += " and RowKey gt @after"
            parameters["after"] = after
        entities = self.audit_log.query_entities(
            query, parameters=parameters, results_per_page=min(limit + 1, 1000)
        )
        rows = list(itertools.islice(entities, limit + 1))  # one more tells whether a next page exists
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage([audit_record(row) for row in rows], rows[-1]["RowKey"] if more else None)

    def audit_about(
        self, subject: str, *, day: datetime, tenant: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """A day's records about one subject (an asset), newest first: the provider's or one tenant's."""
        query = "PartitionKey eq @pk and subject eq @subject"
        parameters = {"pk": audit_partition(day, tenant), "subject": subject}
        entities = self.audit_log.query_entities(query, parameters=parameters, results_per_page=limit)
        return [audit_record(row) for row in itertools.islice(entities, limit)]

    def recent_audit(
        self, *, day: datetime | None = None, limit: int = 100, tenant: str | None = None
    ) -> list[AuditRecord]:
        return self.audit_page(day=day, tenant=tenant, limit=limit).records

    def first_in_window(self, key: str, *, now: datetime, window_seconds: int) -> bool:
        """Claim `key` for the current window (insert-if-absent); False if it was claimed already."""
        window = int(now.timestamp()) // window_seconds
        entity = {"PartitionKey": f"once|{now.strftime('%Y%m%d')}", "RowKey": f"{key}|{window}"}
        try:
            self.audit_log.create_entity(entity)
        except ResourceExistsError:
            return False
        return True
