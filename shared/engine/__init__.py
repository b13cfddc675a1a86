"""The one engine behind every trigger: observe -> plan -> apply, with the plan as a value.

Where to find things (docs/architecture.md draws the map):
- a use case (event, reconcile, push, sync, pull, approve, recall, verify): shared/engine/{propagation,
  reconcile, pushes, requests, fleet, verify}.py, one narrated orchestrator each;
- what is observed for a plan: shared/engine/core.py;
- how a share, a fan-out or a push is planned: shared/planner/ (pure), its steps: shared/steps.py;
- where anything is written: shared/engine/apply.py (the only writer);
- where a ledger row changes: shared/ledger.py (`transition`);
- where an error becomes a retry: shared/errors.py (`judge`) and the settlements in shared/planner/.
"""

from __future__ import annotations

from shared.engine.core import StoreT
from shared.engine.fleet import Fleet
from shared.engine.logs import logger_for, new_correlation_id
from shared.engine.requests import PROVIDER, SyncResult, SyncScope, TenantView
from shared.engine.verify import Verifies, VerifyReport
from shared.planner import World


class Engine(Verifies[StoreT], Fleet[StoreT]):
    """Every use case over one set of ports."""


__all__ = [
    "PROVIDER",
    "Engine",
    "SyncResult",
    "SyncScope",
    "TenantView",
    "VerifyReport",
    "World",
    "logger_for",
    "new_correlation_id",
]
