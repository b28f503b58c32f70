// Every role the function app's system-assigned identity holds, each at the narrowest scope that works.
// Names are guid(scope id, principal id, role definition id): a redeployment finds the same assignment
// instead of failing on a duplicate, and a change of scope, principal or role makes a new one.

import { builtInRoleIds } from '../core/security/role-definitions.bicep'

@description('Object id of the function app\'s system-assigned identity.')
param principalId string

param storageAccountName string
param applicationInsightsName string

param keyVaultName string

@description('True in KeyVaultKey mode: the app may read the secret holding the API key, and nothing else.')
param grantApiKeySecret bool

param keyVaultSecretName string

@description('True when keyless mode created the account: the app may call it with its identity.')
param grantOpenAiUser bool

param openAiAccountName string = ''

var blobDataOwner = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  builtInRoleIds.storageBlobDataOwner
)
var queueDataContributor = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  builtInRoleIds.storageQueueDataContributor
)
var tableDataContributor = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  builtInRoleIds.storageTableDataContributor
)
var metricsPublisher = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  builtInRoleIds.monitoringMetricsPublisher
)
var secretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoleIds.keyVaultSecretsUser)
var openAiUser = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  builtInRoleIds.cognitiveServicesOpenAiUser
)

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName

  resource apiKeySecret 'secrets' existing = if (grantApiKeySecret) {
    name: keyVaultSecretName
  }
}

resource openAi 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = if (grantOpenAiUser) {
  name: openAiAccountName
}

// Blob Data Owner: the role the Functions documentation names for an identity-based AzureWebJobsStorage. The
// host creates its own containers (timer and singleton leases, function keys) and takes blob leases, and Flex
// Consumption reads the deployment package from its container with this identity. The app's run-state blobs (one
// JSON document per run, container agent-runs) are covered by the same role.
resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, blobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: blobDataOwner
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Queue Data Contributor: the host's queue trigger reads, updates and deletes agent-step messages and moves failing
// ones to the poison queue; its queue output bindings enqueue the next steps.
resource storageQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, queueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: queueDataContributor
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Table Data Contributor: the Functions host records its diagnostic events in a table when AzureWebJobsStorage names
// a table endpoint. The app itself keeps nothing in tables.
resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, tableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: tableDataContributor
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: Application Insights has local auth off, so telemetry is accepted only with
// this identity's token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD).
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, metricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: metricsPublisher
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User on the API key secret alone, not on the vault: the app can read this one secret and
// cannot list or read any other.
resource apiKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantApiKeySecret) {
  name: guid(vault::apiKeySecret.id, principalId, secretsUser)
  scope: vault::apiKeySecret
  properties: {
    roleDefinitionId: secretsUser
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Cognitive Services OpenAI User: keyless mode calls inference with the identity's token. The role can
// neither list nor regenerate keys.
resource openAiCaller 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantOpenAiUser) {
  name: guid(openAi.id, principalId, openAiUser)
  scope: openAi
  properties: {
    roleDefinitionId: openAiUser
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
