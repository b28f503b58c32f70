param name string
param location string = resourceGroup().location
param tags object = {}

@description('Resource id of the Log Analytics workspace that stores the telemetry.')
param logAnalyticsWorkspaceId string

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: name
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalyticsWorkspaceId
    // Ingestion accepts only Entra ID tokens (Monitoring Metrics Publisher). The instrumentation key in the
    // connection string then identifies the resource but no longer authorizes anyone to send to it.
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output name string = appInsights.name
output id string = appInsights.id
