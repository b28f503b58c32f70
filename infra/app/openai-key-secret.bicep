// Copies key1 of the Azure OpenAI account into the vault during the deployment, so that no person and no
// pipeline variable ever holds it. The value leaves this module only as the secret's value: not as an output,
// not as an app setting. Rotation afterwards is infra/scripts/rotate-openai-key.sh.

param keyVaultName string
param secretName string
param openAiAccountName string

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: openAiAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource apiKey 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: secretName
  properties: {
    value: account.listKeys().key1
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

output name string = apiKey.name
