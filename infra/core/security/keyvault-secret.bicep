// Writes one secret whose value an operator supplies at deployment time (never stored in this repository).

param keyVaultName string
param name string

@secure()
param value string

param contentType string = 'text/plain'
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: name
  tags: tags
  properties: {
    value: value
    contentType: contentType
    attributes: {
      enabled: true
    }
  }
}

output name string = secret.name
output id string = secret.id
