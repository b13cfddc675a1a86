"""The AzureML adapter (azure-ai-ml SDK): `AzureMLGateway` implements the Catalog port.

Who calls it: shared.runtime (the engine's gateway), the tests and devstack. Its modules: `gateway`
(clients, observe, share, push), `deployments` (register and deploy into a workspace), `sdk`
(credentials, error classification, entity readers), `activity_log` (the ChangeFeed port).
"""

from shared.azureml.activity_log import ActivityLogFeed
from shared.azureml.deployments import deployment_name, shifted_traffic
from shared.azureml.gateway import AzureMLGateway
from shared.azureml.sdk import StaticDevCredential, classify

__all__ = [
    "ActivityLogFeed",
    "AzureMLGateway",
    "StaticDevCredential",
    "classify",
    "deployment_name",
    "shifted_traffic",
]
