// One managed AzureML workspace, in its own subscription and resource group (main.bicep sets the scope):
// RegSync's identity gets AzureML Data Scientist on it, and the workspace's Event Grid system topic sends
// ModelRegistered to RegSync's on_workspace_event function, with retries and dead-lettering.

param workspaceName string
@description('The workspace\'s region: a system topic lives where its source does.')
param location string
param tags object = {}
@description('RegSync\'s user-assigned identity: its principal id and resource id.')
param principalId string
param identityId string
param functionAppId string
param subscribeEvents bool
param deadLetterStorageId string
param deadLetterContainerName string
param maxDeliveryAttempts int
param eventTimeToLiveInMinutes int

// AzureML Data Scientist: read and list assets, share them (read side), register pushed assets, create
// online and batch endpoints and deployments.
var dataScientist = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

resource access 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, dataScientist)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataScientist)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// A source has at most one system topic: an existing topic of this workspace must be removed first, or
// this subscription added to it by hand (docs/deployment.md).
resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: take('regsync-${workspaceName}', 128)
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    source: workspace.id
    topicType: 'Microsoft.MachineLearningServices.Workspaces'
  }
}

resource modelRegistered 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribeEvents) {
  parent: topic
  name: 'regsync'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_workspace_event'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.MachineLearningServices.ModelRegistered'
      ]
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: identityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}
