"""Every setting RegSync reads, in one validated place. Read lazily (never at import time).

Who calls it: the function adapters and the CLI, once per process (`load_settings()` is cached).
local.settings.example.json lists the same names with safe local values; docs/configuration.md explains
each one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # python-re: the queue name patterns use a look-ahead (no `--`), which pydantic's default Rust
    # engine refuses, so that the class itself failed to build.
    model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, populate_by_name=True, regex_engine="python-re"
    )

    # Storage: the Functions host's own account. A connection string locally (Azurite), or an account
    # name in Azure, where DefaultAzureCredential (managed identity) is used.
    storage_connection_string: str | None = Field(
        default=None, validation_alias=AliasChoices("AzureWebJobsStorage", "storage_connection_string")
    )
    storage_account_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AzureWebJobsStorage__accountName", "storage_account_name"),
    )
    table_prefix: str = Field(
        default="regsync",
        pattern=r"^[A-Za-z][A-Za-z0-9]{0,40}$",
        validation_alias=AliasChoices("REGSYNC_TABLE_PREFIX", "table_prefix"),
    )
    push_queue: str = Field(
        default="regsync-pushes",
        pattern=r"^[a-z0-9](?!.*--)[a-z0-9\-]{1,55}[a-z0-9]$",
        validation_alias=AliasChoices("REGSYNC_PUSH_QUEUE", "push_queue"),
    )
    reconcile_queue: str = Field(
        default="regsync-reconcile",
        pattern=r"^[a-z0-9](?!.*--)[a-z0-9\-]{1,55}[a-z0-9]$",
        validation_alias=AliasChoices("REGSYNC_RECONCILE_QUEUE", "reconcile_queue"),
    )
    outbox_queue: str = Field(
        default="regsync-outbox",
        pattern=r"^[a-z0-9](?!.*--)[a-z0-9\-]{1,55}[a-z0-9]$",
        validation_alias=AliasChoices("REGSYNC_OUTBOX_QUEUE", "outbox_queue"),
    )
    # AzureML: `true` only on a developer machine pointed at devstack's emulator (static dev token).
    azureml_emulator: bool = Field(
        default=False, validation_alias=AliasChoices("REGSYNC_AZUREML_EMULATOR", "azureml_emulator")
    )
    # Azure Resource Manager, where the Activity Log (the reconcile's change feed) is read.
    arm_endpoint: str = Field(
        default="https://management.azure.com",
        validation_alias=AliasChoices("REGSYNC_ARM_ENDPOINT", "arm_endpoint"),
    )
    # The reconcile's full pass (every workspace's listings) runs at least this often; between two, the
    # timer reconciles only workspaces the Activity Log shows written. 0: every tick is a full pass.
    full_reconcile_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 30,
        validation_alias=AliasChoices("REGSYNC_FULL_RECONCILE_HOURS", "full_reconcile_hours"),
    )
    # How far back of its watermark each read of the Activity Log starts: its ingestion delay.
    change_feed_overlap_minutes: int = Field(
        default=30,
        ge=0,
        le=24 * 60,
        validation_alias=AliasChoices("REGSYNC_CHANGE_FEED_OVERLAP_MINUTES", "change_feed_overlap_minutes"),
    )
    max_concurrency: int = Field(
        default=4, ge=1, le=64, validation_alias=AliasChoices("REGSYNC_MAX_CONCURRENCY", "max_concurrency")
    )
    max_push_attempts: int = Field(
        default=5,
        ge=1,
        le=50,
        validation_alias=AliasChoices("REGSYNC_MAX_PUSH_ATTEMPTS", "max_push_attempts"),
    )
    # A push that deploys starts the deployment and returns; a follow-up message checks it every
    # `deployment_poll_seconds` until it is ready or failed, or `deployment_deadline_seconds` have passed.
    deployment_deadline_seconds: int = Field(
        default=1800,
        ge=60,
        le=86400,
        validation_alias=AliasChoices("REGSYNC_DEPLOYMENT_DEADLINE_SECONDS", "deployment_deadline_seconds"),
    )
    deployment_poll_seconds: int = Field(
        default=30,
        ge=1,
        le=600,
        validation_alias=AliasChoices("REGSYNC_DEPLOYMENT_POLL_SECONDS", "deployment_poll_seconds"),
    )
    # RegSync's own outbound events (optional): an Event Grid custom topic.
    eventgrid_topic_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REGSYNC_EVENTGRID_TOPIC_ENDPOINT", "eventgrid_topic_endpoint"),
    )
    eventgrid_topic_key: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("REGSYNC_EVENTGRID_TOPIC_KEY", "eventgrid_topic_key"),
    )
    publish_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        validation_alias=AliasChoices("REGSYNC_PUBLISH_TIMEOUT_SECONDS", "publish_timeout_seconds"),
    )
    world_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        validation_alias=AliasChoices("REGSYNC_WORLD_CACHE_SECONDS", "world_cache_seconds"),
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        validation_alias=AliasChoices("REGSYNC_MAX_BODY_BYTES", "max_body_bytes"),
    )

    # Signed provenance (docs/provenance.md): the installation's key, a PEM file only the app can read
    # (the local stack generates it) or an Azure Key Vault key (its id, used through the managed identity:
    # the private key never leaves Key Vault). Neither: nothing is signed. Bundles go to this container.
    signing_key_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("REGSYNC_SIGNING_KEY_FILE", "signing_key_file")
    )
    signing_key_id: str | None = Field(
        default=None,
        pattern=r"^https://[A-Za-z0-9.\-]+/keys/[A-Za-z0-9\-]{1,127}(/[0-9a-fA-F]{32})?$",
        validation_alias=AliasChoices("REGSYNC_SIGNING_KEY_ID", "signing_key_id"),
    )
    signature_container: str = Field(
        default="regsync-signatures",
        pattern=r"^[a-z0-9](?!.*--)[a-z0-9\-]{1,61}[a-z0-9]$",
        validation_alias=AliasChoices("REGSYNC_SIGNATURE_CONTAINER", "signature_container"),
    )

    # Deepest nesting of a JSON request body or Event Grid delivery; RegSync's own need at most 4.
    max_json_depth: int = Field(
        default=32,
        ge=4,
        le=256,
        validation_alias=AliasChoices("REGSYNC_MAX_JSON_DEPTH", "max_json_depth"),
    )

    # Tenant callers of the expensive routes (pull, sync, plan): a token bucket per tenant, per instance.
    # `rate_limit_per_minute` tokens are added each minute up to `rate_limit_burst`; 0 switches it off.
    rate_limit_per_minute: int = Field(
        default=30,
        ge=0,
        le=6000,
        validation_alias=AliasChoices("REGSYNC_RATE_LIMIT_PER_MINUTE", "rate_limit_per_minute"),
    )
    rate_limit_burst: int = Field(
        default=10,
        ge=1,
        le=1000,
        validation_alias=AliasChoices("REGSYNC_RATE_LIMIT_BURST", "rate_limit_burst"),
    )
    # An identical refusal a caller asks for again (a refused pull) is audited once per window.
    refusal_audit_window_seconds: int = Field(
        default=600,
        ge=0,
        le=86_400,
        validation_alias=AliasChoices("REGSYNC_REFUSAL_AUDIT_WINDOW_SECONDS", "refusal_audit_window_seconds"),
    )

    @field_validator("storage_connection_string", "signing_key_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("signing_key_file", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: str | Path | None) -> str | Path | None:
        return value or None

    def require_storage(self) -> None:
        if not self.storage_connection_string and not self.storage_account_name:
            raise ValueError(
                "no storage configured: set `AzureWebJobsStorage` (connection string) "
                "or `AzureWebJobsStorage__accountName` (managed identity)"
            )


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    return Settings()
