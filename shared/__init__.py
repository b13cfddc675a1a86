"""RegSync's core: policy, planning, storage, the AzureML adapter, the HTTP API logic and the CLI."""

__version__ = "0.1.0"
