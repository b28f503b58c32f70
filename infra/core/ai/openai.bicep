@description('Account name; also its custom subdomain, which Entra ID authentication requires.')
param name string

param location string = resourceGroup().location
param tags object = {}

@description('True refuses API keys so that only Entra ID tokens are accepted (keyless mode).')
param disableLocalAuth bool

param deploymentName string
param modelName string
param modelVersion string

@description('Deployment SKU, such as GlobalStandard or Standard.')
param deploymentSkuName string

@description('Capacity in units of the SKU: thousands of tokens per minute for Standard and GlobalStandard.')
@minValue(1)
param deploymentCapacity int

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: disableLocalAuth
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
    // Inference needs no outbound calls from the account, so none are allowed.
    restrictOutboundNetworkAccess: true
  }
}

resource modelDeployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: deploymentSkuName
    capacity: deploymentCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
  }
}

output name string = account.name
output id string = account.id
output endpoint string = account.properties.endpoint
output deploymentName string = modelDeployment.name
