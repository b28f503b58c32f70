using AgentFunctions.Agents;
using AgentFunctions.Agents.Tools;
using AgentFunctions.Configuration;
using AgentFunctions.Credentials;
using AgentFunctions.Model;
using AgentFunctions.Security;
using Azure.AI.OpenAI;
using Azure.Core;
using Azure.Security.KeyVault.Secrets;
using Azure.Storage.Blobs;
using AgentFunctions.Runs;
using AgentFunctions.Functions.Runs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentFunctions.Composition;

public static class ServiceCollectionExtensions
{
    /// <summary>Everything the app runs on. Settings are validated when the host starts, so a bad one stops the app at once.</summary>
    public static IServiceCollection AddAgentFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        // Settings
        AddValidatedOptions(services, configuration, AzureOpenAIOptions.SectionName, new AzureOpenAIOptionsValidator());
        AddValidatedOptions(services, configuration, KeyVaultOptions.SectionName, new KeyVaultOptionsValidator(configuration));
        AddValidatedOptions(services, configuration, KeyCacheOptions.SectionName, new KeyCacheOptionsValidator());
        AddValidatedOptions(services, configuration, IdentityOptions.SectionName, new IdentityOptionsValidator());
        AddValidatedOptions(services, configuration, AgentsOptions.SectionName, new AgentsOptionsValidator());
        AddValidatedOptions(services, configuration, RunStateStorageOptions.SectionName, new RunStateStorageOptionsValidator());
        AddValidatedOptions(services, configuration, ScheduledRunOptions.SectionName, new ScheduledRunOptionsValidator(configuration));

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();

        // Identity: one credential for the process, so its token cache serves every client.
        services.TryAddSingleton<TokenCredential>(provider =>
            AzureCredentialFactory.Create(provider.GetRequiredService<IOptions<IdentityOptions>>().Value, Environment.GetEnvironmentVariable));

        // The key and its cache
        services.TryAddSingleton(provider =>
        {
            var vault = provider.GetRequiredService<IOptions<KeyVaultOptions>>().Value;
            return new SecretClient(vault.VaultUri!, provider.GetRequiredService<TokenCredential>(), KeyVaultSecretSource.CreateClientOptions());
        });
        services.TryAddSingleton<ISecretSource>(provider => new KeyVaultSecretSource(
            provider.GetRequiredService<SecretClient>(),
            provider.GetRequiredService<IOptions<KeyVaultOptions>>().Value.SecretName,
            provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<KeyCacheMetrics>();
        services.TryAddSingleton(provider => new RotatingSecretCache(
            provider.GetRequiredService<ISecretSource>(),
            provider.GetRequiredService<IOptions<KeyCacheOptions>>().Value,
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<RotatingSecretCache>>(),
            provider.GetRequiredService<KeyCacheMetrics>()));
        services.TryAddSingleton(provider => new SecretRedactor(IsKeyMode(provider) ? provider.GetRequiredService<RotatingSecretCache>() : null));
        services.TryAddSingleton<CredentialHealth>();

        // The model
        services.TryAddSingleton<IChatModel>(provider =>
        {
            var openAI = provider.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value;
            var clientOptions = new AzureOpenAIClientOptions { NetworkTimeout = openAI.NetworkTimeout };
            return openAI.Authentication == AzureOpenAIAuthentication.KeyVaultKey
                ? new KeyVaultKeyChatModel(openAI.Endpoint!, clientOptions, provider.GetRequiredService<RotatingSecretCache>(),
                    provider.GetRequiredService<ILogger<KeyVaultKeyChatModel>>())
                : new IdentityChatModel(openAI.Endpoint!, provider.GetRequiredService<TokenCredential>(), clientOptions);
        });

        // Agents
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAgentTool, CurrentTimeTool>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAgentTool, CalculatorTool>());
        services.TryAddSingleton(provider => new ToolRegistry(provider.GetServices<IAgentTool>()));
        services.TryAddSingleton(provider =>
        {
            var agents = provider.GetRequiredService<IOptions<AgentsOptions>>().Value;
            string path = Path.IsPathRooted(agents.CatalogPath)
                ? agents.CatalogPath
                : Path.Combine(AppContext.BaseDirectory, agents.CatalogPath);
            return AgentCatalog.Load(path, provider.GetRequiredService<ToolRegistry>(),
                provider.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value.DefaultDeployment);
        });
        services.TryAddSingleton<AgentRunner>();

        // Runs: state in blobs through the same identity, steps in queues through the host's identity-based connection
        services.TryAddSingleton<IRunStore>(provider =>
        {
            var storage = provider.GetRequiredService<IOptions<RunStateStorageOptions>>().Value;
            var blobs = new BlobServiceClient(storage.BlobServiceUri!, provider.GetRequiredService<TokenCredential>());
            return new BlobRunStore(blobs.GetBlobContainerClient(storage.ContainerName));
        });
        services.TryAddSingleton<RunStepProcessor>();
        services.TryAddSingleton(_ => new RunPipelineSettings(RunQueues.ReadMaxDequeueCount(Path.Combine(AppContext.BaseDirectory, "host.json"))));

        // Resolving these at start-up turns a bad catalog or a bad mode combination into a start failure, not a 500 later.
        services.AddHostedService<StartupChecks>();
        return services;
    }

    private static bool IsKeyMode(IServiceProvider provider) =>
        provider.GetRequiredService<IOptions<AzureOpenAIOptions>>().Value.Authentication == AzureOpenAIAuthentication.KeyVaultKey;

    private static void AddValidatedOptions<TOptions>(IServiceCollection services, IConfiguration configuration, string section,
        IValidateOptions<TOptions> validator)
        where TOptions : class
    {
        var unreadable = new UnreadableSettings<TOptions>();
        services.AddOptions<TOptions>()
            .Configure(options => unreadable.Failures = FlatSettingsBinder.Bind(configuration.GetSection(section), options))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(unreadable));
        services.TryAddEnumerable(ServiceDescriptor.Singleton(validator));
    }

    // Reports the values the binder had to leave out, alongside the section's own rules, in the same start-up failure.
    private sealed class UnreadableSettings<TOptions> : IValidateOptions<TOptions>
        where TOptions : class
    {
        public IReadOnlyList<string> Failures { get; set; } = [];

        public ValidateOptionsResult Validate(string? name, TOptions options) =>
            Failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(Failures);
    }

    private sealed class StartupChecks(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var catalog = services.GetRequiredService<AgentCatalog>();
            _ = services.GetRequiredService<IChatModel>();
            _ = services.GetRequiredService<SecretRedactor>();

            // Checked here rather than by the option's validator because it needs the catalog; with the default
            // once-a-day schedule, an operator would otherwise learn of a typo a day later.
            string? scheduledAgent = services.GetRequiredService<IOptions<ScheduledRunOptions>>().Value.Agent;
            if (!string.IsNullOrWhiteSpace(scheduledAgent) && !catalog.TryGet(scheduledAgent, out _))
            {
                throw new InvalidOperationException(
                    $"ScheduledRun:Agent (app setting ScheduledRun__Agent) names an agent that is not in the catalog; the catalog "
                    + $"has {string.Join(", ", catalog.Agents.Select(agent => agent.Name).Order(StringComparer.Ordinal))}.");
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
