using System.Globalization;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

namespace AgentFunctions.Credentials;

/// <summary>
/// Reads one secret by name, the latest version, and nothing else: never a listing of the vault, so the identity needs
/// only "Key Vault Secrets User" on that one secret.
/// </summary>
public sealed class KeyVaultSecretSource(SecretClient client, string secretName, TimeProvider time) : ISecretSource
{
    public string Description { get; } = $"secret '{secretName}' in {client.VaultUri.GetLeftPart(UriPartial.Authority)}";

    public async Task<SecretSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        KeyVaultSecret secret;
        try
        {
            secret = (await client.GetSecretAsync(secretName, version: null, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException exception)
        {
            throw Classify(exception);
        }
        catch (CredentialUnavailableException exception)
        {
            throw new SecretSourceException(SecretSourceFailure.IdentityFailed,
                "No identity is available to read Key Vault: in Azure enable the function app's managed identity; on a "
                + "developer machine sign in with 'az login' or 'azd auth login'.", innerException: exception);
        }
        catch (AuthenticationFailedException exception)
        {
            throw new SecretSourceException(SecretSourceFailure.IdentityFailed,
                "The app's identity could not get a token for Key Vault. In Azure, check that the function app's managed "
                + "identity is enabled (and Identity:ManagedIdentityClientId, if set); on a developer machine, sign in with "
                + "'az login' or 'azd auth login'.", innerException: exception);
        }
        catch (HttpRequestException exception)
        {
            throw new SecretSourceException(SecretSourceFailure.Unavailable,
                "Key Vault could not be reached: check KeyVault:VaultUri, DNS, and the vault's network rules.", innerException: exception);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SecretSourceException(SecretSourceFailure.Unavailable, "Key Vault did not answer in time.", innerException: exception);
        }

        if (secret.Properties.Enabled == false || string.IsNullOrEmpty(secret.Value))
        {
            throw new SecretSourceException(SecretSourceFailure.Unusable,
                "The secret's latest version is disabled or empty: put the account's current key into it as a new enabled version.");
        }

        return new SecretSnapshot(secret.Value, secret.Properties.Version, time.GetUtcNow());
    }

    private static SecretSourceException Classify(RequestFailedException exception)
    {
        int status = exception.Status;
        var retryAfter = ReadRetryAfter(exception.GetRawResponse());
        // Only the status and the service's error code go into the message: both are safe and both are what an operator
        // searches for. The full service message stays on the inner exception.
        string code = string.IsNullOrEmpty(exception.ErrorCode) ? "no error code" : $"error code {exception.ErrorCode}";
        return status switch
        {
            401 or 403 => new SecretSourceException(SecretSourceFailure.AccessDenied,
                $"Key Vault refused the app's identity ({status}, {code}). Grant the identity the 'Key Vault Secrets User' role "
                + "on the secret, and check the vault's firewall and private endpoint settings.", retryAfter, status, exception),
            404 => new SecretSourceException(SecretSourceFailure.NotFound,
                $"Key Vault has no such secret ({status}, {code}). Check KeyVault:SecretName and KeyVault:VaultUri.",
                retryAfter, status, exception),
            429 => new SecretSourceException(SecretSourceFailure.Throttled,
                $"Key Vault is throttling the app ({status}, {code}).", retryAfter, status, exception),
            0 => new SecretSourceException(SecretSourceFailure.Unavailable,
                "Key Vault could not be reached: check KeyVault:VaultUri, DNS, and the vault's network rules.", retryAfter, null, exception),
            _ => new SecretSourceException(SecretSourceFailure.Unavailable,
                $"Key Vault answered {status} ({code}).", retryAfter, status, exception),
        };
    }

    internal static TimeSpan? ReadRetryAfter(Response? response)
    {
        if (response is null)
        {
            return null;
        }

        foreach (string header in (ReadOnlySpan<string>)["retry-after-ms", "x-ms-retry-after-ms"])
        {
            if (response.Headers.TryGetValue(header, out string? milliseconds)
                && double.TryParse(milliseconds, NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && ms >= 0)
            {
                return TimeSpan.FromMilliseconds(ms);
            }
        }

        if (response.Headers.TryGetValue("Retry-After", out string? retryAfter))
        {
            if (int.TryParse(retryAfter, NumberStyles.Integer, CultureInfo.InvariantCulture, out int seconds) && seconds >= 0)
            {
                return TimeSpan.FromSeconds(seconds);
            }

            if (DateTimeOffset.TryParse(retryAfter, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                var delay = at - DateTimeOffset.UtcNow;
                return delay > TimeSpan.Zero ? delay : TimeSpan.Zero;
            }
        }

        return null;
    }

    /// <summary>Client options for the vault: few SDK retries, because the cache owns backoff and stale serving.</summary>
    public static SecretClientOptions CreateClientOptions()
    {
        var options = new SecretClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 1;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(15);
        return options;
    }
}
