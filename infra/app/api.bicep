// The AgentFunctions app: its settings (addresses and names only) on a Flex Consumption function app.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('The service name in azure.yaml; azd finds the app by this tag.')
param serviceName string = 'api'

param appServicePlanId string
param storageAccountName string
param deploymentStorageContainerName string
param applicationInsightsName string

param openAiEndpoint string

@allowed([
  'KeyVaultKey'
  'ManagedIdentity'
])
param openAiAuthentication string

param openAiDeploymentName string

@description('Vault and secret name the app reads the API key from; used in KeyVaultKey mode only.')
param keyVaultUri string
param keyVaultSecretName string

@description('How long the app keeps the key in memory, as a TimeSpan. Empty keeps the app default.')
param keyCacheTimeToLive string = ''

@description('NCRONTAB schedule of the ScheduledRun timer (6 fields with seconds, or 5).')
param scheduledRunSchedule string = '0 0 6 * * *'

@description('The agent each scheduled firing runs; empty starts nothing.')
param scheduledRunAgent string = ''

@description('The input of each scheduled run; required by the app when an agent is set.')
param scheduledRunInput string = ''

param instanceMemoryMB int = 2048
param maximumInstanceCount int = 100

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var endpoints = storage.properties.primaryEndpoints

// Identity-based storage connections: the account's endpoints and "use the managed identity". No key, no
// SAS. AzureWebJobsStorage is the Functions host's own; RunStateStorage is where the app keeps run state, in blobs only.
var storageSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__blobServiceUri: endpoints.blob
  AzureWebJobsStorage__queueServiceUri: endpoints.queue
  AzureWebJobsStorage__tableServiceUri: endpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  RunStateStorage__blobServiceUri: endpoints.blob
  RunStateStorage__credential: 'managedidentity'
}

var monitoringSettings = {
  // Instrumentation key and ingestion endpoint: they name the resource, they do not authorize. Local auth is
  // off on the component, so only this app's Entra ID token (next setting) gets telemetry in.
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
}

var openAiSettings = {
  AzureOpenAI__Endpoint: openAiEndpoint
  AzureOpenAI__Authentication: openAiAuthentication
  AzureOpenAI__DefaultDeployment: openAiDeploymentName
  Identity__Source: 'ManagedIdentity'
}

var keyVaultSettings = openAiAuthentication == 'KeyVaultKey'
  ? {
      KeyVault__VaultUri: keyVaultUri
      KeyVault__SecretName: keyVaultSecretName
    }
  : {}

var keyCacheSettings = empty(keyCacheTimeToLive) ? {} : { KeyCache__TimeToLive: keyCacheTimeToLive }

// The timer's schedule setting is flat: the Functions host does not resolve nested names in trigger expressions on Linux.
var scheduledRunSettings = {
  ScheduledRunSchedule: scheduledRunSchedule
  ScheduledRun__Agent: scheduledRunAgent
  ScheduledRun__Input: scheduledRunInput
}

module functionApp '../core/host/functions-flexconsumption.bicep' = {
  name: 'functionapp'
  params: {
    name: name
    location: location
    tags: union(tags, { 'azd-service-name': serviceName })
    appServicePlanId: appServicePlanId
    runtimeName: 'dotnet-isolated'
    runtimeVersion: '10.0'
    deploymentStorageBlobEndpoint: endpoints.blob
    deploymentStorageContainerName: deploymentStorageContainerName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: union(storageSettings, monitoringSettings, openAiSettings, keyVaultSettings, keyCacheSettings, scheduledRunSettings)
  }
}

output name string = functionApp.outputs.name
output principalId string = functionApp.outputs.principalId
output defaultHostName string = functionApp.outputs.defaultHostName
