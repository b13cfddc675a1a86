// The AzureML registry, in its own subscription and resource group (main.bicep sets the scope): RegSync's
// identity gets AzureML Registry User on it (read and list assets, create versions, update their tags).

param registryName string
param principalId string

var registryUser = '1823dd4f-9b8c-4ab6-ab4e-7397a3684615'

resource registry 'Microsoft.MachineLearningServices/registries@2024-04-01' existing = {
  name: registryName
}

resource access 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, principalId, registryUser)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', registryUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
