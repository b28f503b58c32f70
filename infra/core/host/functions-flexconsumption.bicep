// A function app on a Flex Consumption plan with a system-assigned identity, HTTPS and TLS 1.2 only, no FTP,
// no basic publishing credentials, and its deployment package read from blob storage with that identity.

param name string
param location string = resourceGroup().location
param tags object = {}

param appServicePlanId string

@description('Application settings as name/value pairs: addresses and names only, never a secret.')
param appSettings object = {}

@description('Worker runtime, in functionAppConfig: Flex Consumption takes no FUNCTIONS_WORKER_RUNTIME.')
param runtimeName string

param runtimeVersion string

@description('Blob endpoint of the account that holds deployment packages, with its trailing slash.')
param deploymentStorageBlobEndpoint string

param deploymentStorageContainerName string

@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

resource functionApp 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        for setting in items(appSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${deploymentStorageBlobEndpoint}${deploymentStorageContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
  }

  // Publishing goes through Entra ID (azd, az functionapp deploy); user/password publishing stays off.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
output principalId string = functionApp.identity.principalId
