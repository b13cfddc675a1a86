// One Azure subscription that holds managed workspaces (main.bicep scopes this to a resource group in it):
// its ARM system topic sends ResourceWriteSuccess for AzureML asset writes to RegSync's on_workspace_event
// function. AzureML has no registration event for environments, components and data; the workspaces'
// own topics cover models, and duplicates are harmless (RegSync's effects are exactly-once).

param tags object = {}
param identityId string
param functionAppId string
param subscribeEvents bool
param deadLetterStorageId string
param deadLetterContainerName string
param maxDeliveryAttempts int
param eventTimeToLiveInMinutes int

// A subscription has at most one ARM system topic: an existing one must be removed first, or this
// subscription added to it by hand (docs/deployment.md).
resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'regsync-arm-${subscription().subscriptionId}'
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource assetWrites 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribeEvents) {
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
        'Microsoft.Resources.ResourceWriteSuccess'
      ]
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: [
            'Microsoft.MachineLearningServices/workspaces/environments/versions/write'
            'Microsoft.MachineLearningServices/workspaces/components/versions/write'
            'Microsoft.MachineLearningServices/workspaces/data/versions/write'
            'Microsoft.MachineLearningServices/workspaces/models/versions/write'
          ]
        }
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
