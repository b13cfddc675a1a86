"""Builds the engine and its adapters from the settings, once per process, on first use.

Who calls it: the function adapters in functions/ and the CLI. Nothing here runs at import time, and
nothing heavy is imported before first use (the Storage and AzureML SDKs, the engine): the host
indexes the functions by importing function_app, so cold start stays cheap; and tests can point the
environment at Azurite and the emulator before first use.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from shared.settings import Settings, load_settings

if TYPE_CHECKING:
    from shared.azureml import AzureMLGateway
    from shared.engine import Engine
    from shared.notify import Publisher
    from shared.ratelimit import RateLimiter
    from shared.signing.notary import Notary
    from shared.storage import StateStore


def build_engine(settings: Settings) -> Engine[StateStore]:
    from shared.azureml import ActivityLogFeed, AzureMLGateway
    from shared.engine import Engine
    from shared.queues import WorkQueue
    from shared.storage import StateStore

    store = StateStore.from_settings(settings)
    store.ensure_tables()
    queues = {}
    for name in (settings.push_queue, settings.reconcile_queue, settings.outbox_queue):
        queues[name] = WorkQueue.from_settings(settings, name)
        queues[name].ensure()
    gateway = AzureMLGateway(settings)
    return Engine(
        store=store,
        gateway=gateway,
        pushes=queues[settings.push_queue],
        reconciles=queues[settings.reconcile_queue],
        outbox=queues[settings.outbox_queue] if settings.eventgrid_topic_endpoint else None,
        max_push_attempts=settings.max_push_attempts,
        max_concurrency=settings.max_concurrency,
        world_ttl=settings.world_cache_seconds,
        refusal_window=settings.refusal_audit_window_seconds,
        deployment_poll_seconds=settings.deployment_poll_seconds,
        deployment_deadline_seconds=settings.deployment_deadline_seconds,
        notary=build_notary(settings, gateway),
        change_feed=ActivityLogFeed(settings.arm_endpoint, gateway.credential),
        full_reconcile_seconds=settings.full_reconcile_hours * 3600,
        change_feed_overlap_seconds=settings.change_feed_overlap_minutes * 60,
    )


def build_notary(settings: Settings, gateway: AzureMLGateway) -> Notary | None:
    """The installation's notary, or None when no signing key is configured (nothing is signed)."""
    from shared.azureml.files import ModelFiles
    from shared.signing.blobs import BlobSignatureStore
    from shared.signing.keys import FileKeySigner, Signer
    from shared.signing.notary import Notary

    signer: Signer
    if settings.signing_key_id:
        from azure.identity import DefaultAzureCredential

        from shared.signing.keyvault import KeyVaultSigner

        signer = KeyVaultSigner(settings.signing_key_id, DefaultAzureCredential())
    elif settings.signing_key_file:
        signer = FileKeySigner(settings.signing_key_file)
    else:
        return None
    store = BlobSignatureStore.from_settings(settings)
    store.ensure()
    return Notary(signer, store, ModelFiles(gateway))


@lru_cache(maxsize=1)
def engine() -> Engine[StateStore]:
    return build_engine(load_settings())


@lru_cache(maxsize=1)
def limiter() -> RateLimiter:
    """The HTTP API's token buckets: one set per process (per instance, see shared.ratelimit)."""
    from shared.ratelimit import RateLimiter

    settings = load_settings()
    return RateLimiter(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)


@lru_cache(maxsize=1)
def publisher() -> Publisher | None:
    from shared.notify import publisher_from_settings

    return publisher_from_settings(load_settings())


def reset() -> None:
    """Forget the cached settings, engine, limiter and publisher (tests change the environment)."""
    load_settings.cache_clear()
    engine.cache_clear()
    limiter.cache_clear()
    publisher.cache_clear()
