using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;

namespace AgentFunctions.Model;

/// <summary>Turns what the OpenAI client throws into <see cref="ModelCallException"/>, keeping service text out of messages.</summary>
internal static class ChatCallGuard
{
    public static ModelCallException Translate(ClientResultException exception, string deployment)
    {
        var retryAfter = ReadRetryAfter(exception.GetRawResponse());
        string message = exception.Status switch
        {
            0 => "Azure OpenAI could not be reached: check AzureOpenAI:Endpoint and the network path to the account.",
            401 => "Azure OpenAI refused the app's credential (401).",
            403 => "Azure OpenAI refused access (403): check the identity's 'Cognitive Services OpenAI User' role and the "
                + "account's network rules.",
            404 => $"Azure OpenAI has no deployment named '{deployment}' (404): check the agent catalog and AzureOpenAI:DefaultDeployment.",
            429 => "Azure OpenAI is throttling the app (429).",
            400 => "Azure OpenAI refused the request (400), for example because of its content filter.",
            _ => $"Azure OpenAI answered {exception.Status}.",
        };
        return new ModelCallException(message, exception.Status, retryAfter, exception);
    }

    /// <summary>
    /// The call never got an answer: no connection, a timeout, or every retry of those (the client wraps its attempts'
    /// failures in one AggregateException). The caller's own cancellation is not one of them.
    /// </summary>
    public static bool IsTransportFailure(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        HttpRequestException or IOException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        ClientResultException { Status: 0 } => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(inner => IsTransportFailure(inner, cancellationToken)),
        _ => false,
    };

    public static ModelCallException Unreachable(Exception exception) =>
        new("Azure OpenAI could not be reached or did not answer within AzureOpenAI:NetworkTimeout: check the endpoint, the "
            + "network path and the service's health.", 0, null, exception);

    private static TimeSpan? ReadRetryAfter(PipelineResponse? response)
    {
        if (response is null)
        {
            return null;
        }

        if (response.Headers.TryGetValue("retry-after-ms", out string? ms)
            && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out double milliseconds) && milliseconds >= 0)
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }

        return response.Headers.TryGetValue("Retry-After", out string? seconds)
            && int.TryParse(seconds, NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) && s >= 0
                ? TimeSpan.FromSeconds(s)
                : null;
    }
}
