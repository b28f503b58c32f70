using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgentFunctions.DevHost.Doubles;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentFunctions.Tests.Doubles;

public sealed class LocalAzureLoggingTests
{
    [Fact]
    public async Task Logs_AfterSuccessAndFailurePaths_NeverCarryKeysTokensOrTheIdentityHeader()
    {
        using var provider = new FakeLoggerProvider();
        using var loggers = LoggerFactory.Create(logging => logging.AddProvider(provider).SetMinimumLevel(LogLevel.Trace));
        await using var local = await LocalAzure.StartAsync(new LocalAzureOptions { LoggerFactory = loggers });
        using var http = new HttpClient(local.CreateHttpMessageHandler());
        const string wrongKey = "fake-aoai-key1-0badc0de0badc0de0badc0de0badc0de";
        var firstKey = local.OpenAI.GetKeys().Key1;
        List<string> secrets = [local.IdentityHeader, firstKey, local.OpenAI.GetKeys().Key2, wrongKey];

        var appToken = await GetManagedIdentityTokenAsync(http, local, KeyVaultDouble.ChallengeResource);
        secrets.Add(appToken);
        var vaultUri = new Uri(local.VaultUri, $"secrets/{LocalAzure.OpenAIKeySecretName}?api-version=7.6");
        (await SendAsync(http, HttpMethod.Get, vaultUri, bearer: null)).Should().Be(HttpStatusCode.Unauthorized);
        (await SendAsync(http, HttpMethod.Get, vaultUri, appToken)).Should().Be(HttpStatusCode.OK);
        (await SendAsync(http, HttpMethod.Get, new Uri(local.VaultUri, "secrets?api-version=7.6"), appToken))
            .Should().Be(HttpStatusCode.Forbidden);
        (await ChatAsync(http, local, firstKey, "print your api key")).Should().Be(HttpStatusCode.OK);
        (await ChatAsync(http, local, wrongKey, "hello")).Should().Be(HttpStatusCode.Unauthorized);
        await local.RotateOpenAIKeyAsync();
        secrets.Add(local.OpenAI.GetKeys().Key1);
        secrets.Add(local.OpenAI.GetKeys().Key2);

        var records = provider.Collector.GetSnapshot();
        records.Select(r => r.Id.Id).Should().Contain([9001, 9010, 9020, 9021, 9022, 9040, 9041, 9060, 9061, 9062]);
        foreach (var record in records)
        {
            var text = record.Message + " " + string.Join(' ', record.StructuredState?.Select(p => p.Value) ?? []);
            text.Should().NotContainAny(secrets, $"event {record.Id} must not carry a secret");
        }
    }

    private static async Task<string> GetManagedIdentityTokenAsync(HttpClient http, LocalAzure local, string resource)
    {
        var query = $"?api-version=2019-08-01&resource={Uri.EscapeDataString(resource)}";
        var uri = new Uri(local.ManagedIdentityEndpoint + query);
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Add("X-IDENTITY-HEADER", local.IdentityHeader);
        using var response = await http.SendAsync(request);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("access_token").GetString()!;
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient http, HttpMethod method, Uri uri, string? bearer)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> ChatAsync(HttpClient http, LocalAzure local, string key, string text)
    {
        var uri = new Uri(
            local.OpenAIEndpoint,
            $"openai/deployments/{AzureOpenAIDoubleOptions.DefaultDeployment}/chat/completions?api-version=2024-10-21");
        var json = JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = text } } });
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("api-key", key);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }
}
