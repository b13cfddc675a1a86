// RegSync in Azure: one Function App on the Flex Consumption plan (Python 3.11), its storage reached with a
// user-assigned managed identity only (shared keys disabled), Application Insights on Log Analytics,
// RegSync's tables and queues, the outbound Event Grid topic (Entra only), the AzureML roles on every
// managed workspace and on the registry, the Event Grid subscriptions that feed RegSync, and an alert when
// a message lands in a poison queue.
//
// Deploy: `azd up` (azure.yaml), or `az deployment group create` with a parameter file that
// `regsync deploy params POLICY_FILE` renders from the policy file's inventory (docs/deployment.md).
// Checked offline by checkov (`make test`) and tests/unit/test_infra.py; the Bicep CLI does not run here.

targetScope = 'resourceGroup'

@description('Base of every resource name: 3 to 11 lower-case letters or digits.')
@minLength(3)
@maxLength(11)
param name string = 'regsync'

@description('Region of RegSync\'s own resources. Flex Consumption is not offered in every region.')
param location string = resourceGroup().location

param tags object = {}

@description('The managed AzureML workspaces: [{name, subscriptionId, resourceGroup, region}]. `regsync deploy params` renders them from the policy file.')
param workspaces array

@description('The Azure subscriptions of the workspaces, each with the resource group that holds its ARM event topic: [{subscriptionId, resourceGroup}].')
param subscriptions array

@description('The AzureML registry assets are shared through: {name, subscriptionId, resourceGroup}.')
param registry object

@description('Create the Event Grid subscriptions. Their AzureFunction endpoint must exist, so the first deployment (before the code) leaves them out; the second turns them on.')
param subscribeEvents bool = false

@description('Prefix of RegSync\'s five tables (REGSYNC_TABLE_PREFIX).')
param tablePrefix string = 'regsync'

param pushQueue string = 'regsync-pushes'
param reconcileQueue string = 'regsync-reconcile'
param outboxQueue string = 'regsync-outbox'

@description('NCRONTAB of the reconcile timer (six fields, seconds first).')
param reconcileSchedule string = '0 */15 * * * *'

@description('Hours between the reconcile timer\'s full passes; between them a tick reconciles only the workspaces the Activity Log shows written (the identity needs Monitoring Reader on each subscription, else every tick is a full pass). 0: always full.')
@minValue(0)
@maxValue(720)
param fullReconcileHours int = 24

@description('Attempts of one push, counted in its queue message (host.json maxDequeueCount only guards crashes).')
@minValue(1)
@maxValue(50)
param maxPushAttempts int = 5
@description('Seconds a started deployment may take to become ready before its push fails (REGSYNC_DEPLOYMENT_DEADLINE_SECONDS).')
@minValue(60)
param deploymentDeadlineSeconds int = 1800
@description('Seconds between the follow-up checks of a started deployment (REGSYNC_DEPLOYMENT_POLL_SECONDS).')
@minValue(1)
param deploymentPollSeconds int = 30

@minValue(1)
@maxValue(64)
param maxConcurrency int = 4

@minValue(1024)
param maxBodyBytes int = 1048576

@minValue(0)
@maxValue(300)
param worldCacheSeconds int = 5

@description('How deep a JSON body or event may nest.')
@minValue(4)
@maxValue(256)
param maxJsonDepth int = 32

@description('Tokens a minute in a tenant\'s bucket for pull, sync and plan (per instance); 0 switches the limit off.')
@minValue(0)
@maxValue(6000)
param rateLimitPerMinute int = 30

@description('Most tokens a tenant\'s bucket holds: the burst of pull, sync and plan requests it may send at once.')
@minValue(1)
@maxValue(1000)
param rateLimitBurst int = 10

@description('Seconds within which an identical refusal asked for again (a refused pull) is audited once; 0 audits each.')
@minValue(0)
@maxValue(86400)
param refusalAuditWindowSeconds int = 600

@description('Seconds the outbox publisher waits on the outbound topic before it tries again later.')
@minValue(1)
@maxValue(60)
param publishTimeoutSeconds int = 5

@description('Event Grid delivery: attempts and time to live before an event is dead-lettered.')
param maxDeliveryAttempts int = 30
param eventTimeToLiveInMinutes int = 1440

@description('Who hears about poison messages; empty: the alert fires without notifying anyone.')
param alertEmail string = ''

@allowed([2048, 4096])
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

var token = toLower(uniqueString(resourceGroup().id, name))
var storageName = toLower(take('${name}${token}', 24))
var packageContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var signatureContainerName = 'regsync-signatures'
var queueNames = [
  pushQueue
  '${pushQueue}-poison'
  reconcileQueue
  '${reconcileQueue}-poison'
  outboxQueue
  '${outboxQueue}-poison'
]
var tableNames = [
  '${tablePrefix}Inventory'
  '${tablePrefix}Rules'
  '${tablePrefix}Ledger'
  '${tablePrefix}Audit'
  '${tablePrefix}Seen'
]
// Built-in role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d297424'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-id-${token}'
  location: location
  tags: tags
}

// --- monitoring ------------------------------------------------------------------------------------------

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${name}-logs-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-ai-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    // Telemetry is accepted from Entra identities only (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
    DisableLocalAuth: true
  }
}

// --- storage: the host's own and RegSync's state, identity only ------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_59: Flex Consumption without a virtual network reaches its storage over the public endpoint; shared keys are disabled, so every caller needs an Entra role.
  // checkov:skip=CKV_AZURE_35: the same: a deny-by-default firewall needs the virtual network integration this deployment does not have.
  // checkov:skip=CKV_AZURE_43: the name is computed (toLower, take 24 of the name parameter and uniqueString), which checkov cannot evaluate; it is lower-case letters and digits when the name parameter is.
  // checkov:skip=CKV_AZURE_206: the tables hold RegSync's inventory, rules, ledger and audit, which the reconcile and the policy file can rebuild; zone or geo replication is the operator's cost decision.
  name: storageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// The Flex Consumption deployment package.
resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: packageContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Events Event Grid could not deliver after every retry.
resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The installation's signature bundles (docs/provenance.md): written once per registry model version.
resource signatureContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: signatureContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The host would create them on first use; created here so the poison alert and operators see them.
resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

// Blob Data Owner: the host's own blobs (keys, timer and singleton leases) and the deployment package;
// Queue and Table Data Contributor: RegSync's queues (triggers, poison queues, sending) and tables.
resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]: {
    name: guid(storage.id, identity.id, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource telemetryAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// --- the installation's signing key: in Key Vault, used through the identity, never exported -------------

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Flex Consumption without a virtual network reaches the vault over its public endpoint; access is Entra RBAC only (no access policies), so every caller needs a role.
  // checkov:skip=CKV_AZURE_189: the same: public network access is how this deployment's app reaches the vault.
  name: take('${name}kv${token}', 24)
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'premium'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// An HSM-protected P-256 key (ES256): RegSync asks Key Vault to sign; the private key never leaves it.
resource signingKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  // checkov:skip=CKV_AZURE_40: an expiry date would stop every share from being signed on that day; rotation is a decision of the operator (docs/provenance.md).
  parent: vault
  name: 'regsync-signing'
  properties: {
    kty: 'EC-HSM'
    curveName: 'P-256'
    keyOps: ['sign', 'verify']
  }
}

// Crypto User: sign and verify with the key, read its public part; nothing else in the vault.
resource signingAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultCryptoUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCryptoUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// --- RegSync's own events: an Event Grid custom topic, Entra authentication only --------------------------

resource outboundTopic 'Microsoft.EventGrid/topics@2022-06-15' = {
  // checkov:skip=CKV_AZURE_193: RegSync publishes from Flex Consumption without a virtual network, so over the public endpoint; local auth is disabled, so publishing needs the Event Grid Data Sender role.
  name: '${name}-events-${token}'
  location: location
  tags: tags
  // Delivery to the tenants' subscribers can then use an identity (deliveryWithResourceIdentity).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'EventGridSchema'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource publishAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outboundTopic.id, identity.id, roles.eventGridDataSender)
  scope: outboundTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventGridDataSender)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// --- the Function App --------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption needs a region that offers it and zone-redundant storage; RegSync's work is queued and retried, so an instance lost costs a retry, not data.
  name: '${name}-plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Every setting RegSync reads (shared/settings.py; docs/configuration.md) plus the platform's. Flex
// Consumption takes neither FUNCTIONS_WORKER_RUNTIME nor SCM_DO_BUILD_DURING_DEPLOYMENT: the runtime is
// functionAppConfig.runtime and the build is the deployment's (remote build).
var appSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  AZURE_CLIENT_ID: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  REGSYNC_TABLE_PREFIX: tablePrefix
  REGSYNC_PUSH_QUEUE: pushQueue
  REGSYNC_RECONCILE_QUEUE: reconcileQueue
  REGSYNC_OUTBOX_QUEUE: outboxQueue
  REGSYNC_RECONCILE_SCHEDULE: reconcileSchedule
  REGSYNC_FULL_RECONCILE_HOURS: string(fullReconcileHours)
  REGSYNC_CHANGE_FEED_OVERLAP_MINUTES: '30'
  REGSYNC_ARM_ENDPOINT: environment().resourceManager
  REGSYNC_AZUREML_EMULATOR: 'false'
  REGSYNC_MAX_CONCURRENCY: string(maxConcurrency)
  REGSYNC_MAX_PUSH_ATTEMPTS: string(maxPushAttempts)
  REGSYNC_DEPLOYMENT_DEADLINE_SECONDS: string(deploymentDeadlineSeconds)
  REGSYNC_DEPLOYMENT_POLL_SECONDS: string(deploymentPollSeconds)
  REGSYNC_MAX_BODY_BYTES: string(maxBodyBytes)
  REGSYNC_WORLD_CACHE_SECONDS: string(worldCacheSeconds)
  REGSYNC_MAX_JSON_DEPTH: string(maxJsonDepth)
  REGSYNC_RATE_LIMIT_PER_MINUTE: string(rateLimitPerMinute)
  REGSYNC_RATE_LIMIT_BURST: string(rateLimitBurst)
  REGSYNC_REFUSAL_AUDIT_WINDOW_SECONDS: string(refusalAuditWindowSeconds)
  REGSYNC_PUBLISH_TIMEOUT_SECONDS: string(publishTimeoutSeconds)
  REGSYNC_EVENTGRID_TOPIC_ENDPOINT: outboundTopic.properties.endpoint
  // The key's version is pinned: the key that signs and the public key in the bundles cannot drift apart.
  REGSYNC_SIGNING_KEY_ID: signingKey.properties.keyUriWithVersion
  REGSYNC_SIGNING_KEY_FILE: ''
  REGSYNC_SIGNATURE_CONTAINER: signatureContainerName
  // The topic has no keys (local auth is disabled): publishing is with the identity's Event Grid Data
  // Sender role.
  REGSYNC_EVENTGRID_TOPIC_KEY: ''
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: client certificates do not fit Event Grid's AzureFunction delivery or the operators' CLI; the API needs a function key and App Service Authentication (docs/deployment.md).
  // checkov:skip=CKV_AZURE_222: Flex Consumption without a virtual network; Event Grid and the operators' CLI reach the app over its public endpoint.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero by design; the queues and Event Grid's retries carry work across a cold start.
  // checkov:skip=CKV_AZURE_213: a Functions app has no health route of its own; the poison-queue alert and Application Insights watch it.
  name: '${name}-func-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': 'regsync' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${packageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
  dependsOn: [
    storageAccess
    packageContainer
  ]

  resource settings 'config' = {
    // This is the app settings resource, not the web config: checkov reads every sites/config as web config.
    // checkov:skip=CKV_AZURE_63: HTTP logs are an App Service web config feature; a Functions app logs requests to Application Insights.
    // checkov:skip=CKV_AZURE_65: detailed error pages are an App Service web config feature; a Functions app logs errors to Application Insights.
    // checkov:skip=CKV_AZURE_66: failed request tracing is an App Service (IIS) web config feature; Application Insights traces requests.
    // checkov:skip=CKV_AZURE_80: no .NET Framework in a Python app.
    // checkov:skip=CKV_AZURE_88: Flex Consumption deploys from blob storage (functionAppConfig.deployment), not Azure Files.
    // checkov:skip=CKV_AZURE_222: public network access is a property of the site (skipped there with its reason), not of its app settings.
    // checkov:skip=CKV_AZURE_13: App Service Authentication needs the operator's Entra app registration, which this template cannot create; docs/deployment.md configures it before the API is used.
    name: 'appsettings'
    properties: appSettings
  }
}

// --- AzureML: roles on every workspace and on the registry, events from them -----------------------------

module workspaceAccess 'modules/workspace.bicep' = [
  for workspace in workspaces: {
    name: take('regsync-ws-${workspace.name}-${token}', 64)
    scope: resourceGroup(workspace.subscriptionId, workspace.resourceGroup)
    params: {
      workspaceName: workspace.name
      location: workspace.region
      tags: tags
      principalId: identity.properties.principalId
      identityId: identity.id
      functionAppId: app.id
      subscribeEvents: subscribeEvents
      deadLetterStorageId: storage.id
      deadLetterContainerName: deadLetterContainerName
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
  }
]

module registryAccess 'modules/registry.bicep' = {
  name: take('regsync-registry-${token}', 64)
  scope: resourceGroup(registry.subscriptionId, registry.resourceGroup)
  params: {
    registryName: registry.name
    principalId: identity.properties.principalId
  }
}

module armEvents 'modules/subscription-events.bicep' = [
  for item in subscriptions: {
    name: take('regsync-arm-${item.subscriptionId}-${token}', 64)
    scope: resourceGroup(item.subscriptionId, item.resourceGroup)
    params: {
      tags: tags
      identityId: identity.id
      functionAppId: app.id
      subscribeEvents: subscribeEvents
      deadLetterStorageId: storage.id
      deadLetterContainerName: deadLetterContainerName
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
  }
]

// --- the poison queues alert ---------------------------------------------------------------------------------

// Queue writes go to Log Analytics (StorageQueueLogs), where the alert finds messages put into a poison queue.
resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'regsync-queue-writes'
  scope: queueService
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
    ]
  }
}

resource alertReceivers 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${name}-alerts-${token}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'regsync'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource poisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${name}-poison-${token}'
  location: location
  tags: tags
  properties: {
    displayName: 'RegSync: a message was moved to a poison queue'
    description: 'A push, reconcile or outbox message failed every attempt (host.json maxDequeueCount) and was moved to its -poison queue. See docs/runbook.md.'
    severity: 2
    enabled: true
    scopes: [
      logs.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'StorageQueueLogs | where AccountName == "${storage.name}" and OperationName == "PutMessage" and ObjectKey contains "-poison/"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmail) ? [] : [alertReceivers.id]
    }
  }
  dependsOn: [
    queueDiagnostics
  ]
}

output AZURE_FUNCTION_APP_NAME string = app.name
output REGSYNC_STORAGE_ACCOUNT string = storage.name
output REGSYNC_IDENTITY_CLIENT_ID string = identity.properties.clientId
output REGSYNC_EVENTGRID_TOPIC_ENDPOINT string = outboundTopic.properties.endpoint
output APPLICATIONINSIGHTS_NAME string = insights.name
