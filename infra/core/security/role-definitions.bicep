// The built-in Azure roles this template grants, by name. Every role GUID in infra/ lives here and
// nowhere else; modules import the map and build the definition id with subscriptionResourceId().

@export()
@description('Built-in role definition GUIDs, keyed by the role\'s display name in camel case.')
var builtInRoleIds = {
  // Data plane: read, write and delete blobs and containers, and set their ACLs.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Data plane: read, write and delete queues and their messages.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Data plane: read, write and delete tables and their entities.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Data plane: read the value of a secret (getSecret), nothing else.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // Publish metrics and telemetry to Azure Monitor with an Entra ID token.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Call inference on Azure OpenAI deployments with an Entra ID token; no key listing.
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
}
