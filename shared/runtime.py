"""Builds the engine and its adapters from the settings, once per process, on first use.

Who calls it: the function adapters in functions/ and the CLI. Nothing here runs at import time: cold
start stays cheap and tests can point the environment at Azurite and the emulator before first use.
"""

from __future__ import annotations

from functools import lru_cache

from shared.azureml import AzureMLGateway
from shared.engine import Engine
from shared.notify import publisher_from_settings
from shared.settings import Settings, load_settings
from shared.storage import StateStore, WorkQueue


def build_engine(settings: Settings) -> Engine:
    store = StateStore.from_settings(settings)
    store.ensure_tables()
    pushes = WorkQueue.from_settings(settings, settings.push_queue)
    pushes.ensure()
    reconciles = WorkQueue.from_settings(settings, settings.reconcile_queue)
    reconciles.ensure()
    return Engine(
        store=store,
        gateway=AzureMLGateway(settings),
        pushes=pushes,
        reconciles=reconciles,
        publisher=publisher_from_settings(settings),
        max_push_attempts=settings.max_push_attempts,
        world_ttl=settings.world_cache_seconds,
    )


@lru_cache(maxsize=1)
def engine() -> Engine:
    return build_engine(load_settings())


def reset() -> None:
    """Forget the cached settings and engine (tests change the environment between sessions)."""
    load_settings.cache_clear()
    engine.cache_clear()
