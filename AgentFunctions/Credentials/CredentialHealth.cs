using AgentFunctions.Configuration;
using Azure.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Credentials;

/// <summary>What the health endpoint reports.</summary>
public sealed record CredentialHealthReport(bool Healthy, string Authentication, long? KeyAgeSeconds);

/// <summary>
/// Checks the credential the app is configured for: in key mode the cached key (one vault read at most per time to
/// live, so probes add no vault load); in keyless mode a token for Azure OpenAI, which the credential caches too.
/// </summary>
public sealed class CredentialHealth(IOptions<AzureOpenAIOptions> options, IServiceProvider services, TimeProvider time)
{
    internal const string CognitiveServicesScope = "https://cognitiveservices.azure.com/.default";

    public async Task<CredentialHealthReport> CheckAsync(CancellationToken cancellationToken)
    {
        var mode = options.Value.Authentication;
        try
        {
            if (mode == AzureOpenAIAuthentication.KeyVaultKey)
            {
                var key = await services.GetRequiredService<RotatingSecretCache>().GetAsync(cancellationToken).ConfigureAwait(false);
                return new CredentialHealthReport(true, mode.ToString(), (long)(time.GetUtcNow() - key.ReadAt).TotalSeconds);
            }

            await services.GetRequiredService<TokenCredential>()
                .GetTokenAsync(new TokenRequestContext([CognitiveServicesScope]), cancellationToken).ConfigureAwait(false);
            return new CredentialHealthReport(true, mode.ToString(), null);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The cache and the credential log the cause for the operator; the probe only says unhealthy.
            return new CredentialHealthReport(false, mode.ToString(), null);
        }
    }
}
