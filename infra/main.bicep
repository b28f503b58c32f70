targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the unique token in every default resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer Flex Consumption and, when one is created, the model.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

// Each name below may be set to adopt a naming convention; empty means an abbreviation plus the unique token.
param resourceGroupName string = ''
param functionAppName string = ''
param appServicePlanName string = ''
param storageAccountName string = ''
param keyVaultName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param openAiAccountName string = ''

// ---------------------------------------------------------------------------------------------------------
// Azure OpenAI
// ---------------------------------------------------------------------------------------------------------

@description('KeyVaultKey: the app reads an API key from Key Vault. ManagedIdentity: keyless, Entra ID only.')
@allowed([
  'KeyVaultKey'
  'ManagedIdentity'
])
param openAiAuthentication string = 'KeyVaultKey'

@description('Endpoint of an existing Azure OpenAI resource. Empty creates an account and a deployment.')
param openAiEndpoint string = ''

@secure()
@description('Key of the existing resource, written into the vault only. Empty keeps the vault\'s value.')
param openAiApiKey string = ''

@description('Name of the vault secret that holds the API key.')
param openAiKeySecretName string = 'azure-openai-api-key'

@description('Deployment the app calls by default (AzureOpenAI__DefaultDeployment).')
param openAiDeploymentName string = 'gpt-4o-mini'

@description('Model of the created deployment; ignored with an existing endpoint.')
param openAiModelName string = 'gpt-4o-mini'

param openAiModelVersion string = '2024-07-18'

@description('Deployment SKU of the created deployment, such as GlobalStandard or Standard.')
param openAiDeploymentSkuName string = 'GlobalStandard'

@description('Capacity of the created deployment, in thousands of tokens per minute.')
@minValue(1)
param openAiDeploymentCapacity int = 10

// ---------------------------------------------------------------------------------------------------------
// Key Vault and the app
// ---------------------------------------------------------------------------------------------------------

@description('Public endpoint of the vault. Disabled needs private endpoints, which this template lacks.')
@allowed([
  'Enabled'
  'Disabled'
])
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('KeyCache__TimeToLive as a TimeSpan (hh:mm:ss). Empty leaves it unset: the app uses 00:05:00.')
param keyCacheTimeToLive string = ''

@description('Memory of each Flex Consumption instance, in MB.')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

// ---------------------------------------------------------------------------------------------------------
// Names and switches
// ---------------------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

var createOpenAi = empty(openAiEndpoint)
var useKeyVaultKey = openAiAuthentication == 'KeyVaultKey'
var writeOperatorKey = !createOpenAi && useKeyVaultKey && !empty(openAiApiKey)

var names = {
  resourceGroup: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  functionApp: !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}${resourceToken}'
  plan: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}${resourceToken}'
  storage: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
  keyVault: !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${resourceToken}'
  logAnalytics: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
  appInsights: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
  openAi: !empty(openAiAccountName) ? openAiAccountName : '${abbrs.cognitiveServicesAccounts}${resourceToken}'
}

// Flex Consumption reads the app package from this container; the token keeps two apps' packages apart.
var deploymentContainerName = 'app-package-${take(toLower(names.functionApp), 32)}-${take(resourceToken, 7)}'

// ---------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module logAnalytics 'core/monitor/loganalytics.bicep' = {
  name: 'loganalytics'
  scope: rg
  params: {
    name: names.logAnalytics
    location: location
    tags: tags
  }
}

module appInsights 'core/monitor/applicationinsights.bicep' = {
  name: 'applicationinsights'
  scope: rg
  params: {
    name: names.appInsights
    location: location
    tags: tags
    logAnalyticsWorkspaceId: logAnalytics.outputs.id
  }
}

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    containerNames: [deploymentContainerName]
  }
}

module keyVault 'core/security/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    publicNetworkAccess: keyVaultPublicNetworkAccess
  }
}

module openAi 'core/ai/openai.bicep' = if (createOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    name: names.openAi
    location: location
    tags: tags
    disableLocalAuth: !useKeyVaultKey
    deploymentName: openAiDeploymentName
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    deploymentSkuName: openAiDeploymentSkuName
    deploymentCapacity: openAiDeploymentCapacity
  }
}

// Created account, key mode: the deployment copies key1 into the vault; nobody sees it.
module openAiKeyFromAccount 'app/openai-key-secret.bicep' = if (createOpenAi && useKeyVaultKey) {
  name: 'openai-key-secret'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    secretName: openAiKeySecretName
    openAiAccountName: openAi!.outputs.name
  }
}

// Existing endpoint, key mode: the operator's key is written when given; otherwise the vault keeps its value.
module openAiKeyFromOperator 'core/security/keyvault-secret.bicep' = if (writeOperatorKey) {
  name: 'openai-key-operator-secret'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    name: openAiKeySecretName
    value: openAiApiKey
  }
}

module plan 'core/host/appserviceplan-flexconsumption.bicep' = {
  name: 'appserviceplan'
  scope: rg
  params: {
    name: names.plan
    location: location
    tags: tags
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: names.functionApp
    location: location
    tags: tags
    appServicePlanId: plan.outputs.id
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentContainerName
    applicationInsightsName: appInsights.outputs.name
    openAiEndpoint: createOpenAi ? openAi!.outputs.endpoint : openAiEndpoint
    openAiAuthentication: openAiAuthentication
    openAiDeploymentName: createOpenAi ? openAi!.outputs.deploymentName : openAiDeploymentName
    keyVaultUri: keyVault.outputs.vaultUri
    keyVaultSecretName: openAiKeySecretName
    keyCacheTimeToLive: keyCacheTimeToLive
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: api.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: appInsights.outputs.name
    keyVaultName: keyVault.outputs.name
    grantApiKeySecret: useKeyVaultKey
    keyVaultSecretName: openAiKeySecretName
    grantOpenAiUser: createOpenAi && !useKeyVaultKey
    openAiAccountName: createOpenAi ? openAi!.outputs.name : ''
  }
  // The secret must exist before a role can be scoped to it.
  dependsOn: [
    openAiKeyFromAccount
    openAiKeyFromOperator
  ]
}

// ---------------------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment; none is a secret)
// ---------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_PRINCIPAL_ID string = api.outputs.principalId
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.vaultUri
output AZURE_OPENAI_NAME string = createOpenAi ? openAi!.outputs.name : ''
output AZURE_OPENAI_ENDPOINT string = createOpenAi ? openAi!.outputs.endpoint : openAiEndpoint
output AZURE_OPENAI_DEPLOYMENT string = createOpenAi ? openAi!.outputs.deploymentName : openAiDeploymentName
output APPLICATIONINSIGHTS_NAME string = appInsights.outputs.name
