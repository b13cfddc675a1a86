"""Applying a validated policy document (inventory and rules) to the store: one way, for every caller.

Who calls it: `regsync policy load`, the HTTP API's `PUT /api/rules`, and the integration test fixtures.
Parsing and validation live in shared.policy_file; this module only writes, and checks the one thing a
parser cannot: whether the incoming rule ids clash with stored rules of the other kind.
"""

from __future__ import annotations

from shared.policy_file import PolicyDocument
from shared.storage import StateStore


def apply_document(store: StateStore, document: PolicyDocument, *, replace_all: bool = False) -> list[str]:
    """Store the document's tenants, registries, workspaces and rules; return the ids of removed rules.

    The merge with the stored rules is checked first (StateError on an id clash), so a clash writes
    nothing. Tenants go before workspaces because a workspace names its tenant.
    """
    store.merge_policy(document.policy, replace_all=replace_all)
    for tenant in document.tenants:
        store.put_tenant(tenant)
    for registry in document.registries:
        store.put_registry(registry)
    for workspace in document.workspaces:
        store.put_workspace(workspace)
    return store.put_policy(document.policy, replace_all=replace_all)
