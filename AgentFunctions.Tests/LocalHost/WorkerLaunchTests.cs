using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Worker;

namespace AgentFunctions.Tests.LocalHost;

public sealed class WorkerLaunchTests
{
    private const string AppDirectory = "/apps/agent";

    [Fact]
    public void EnvironmentBuild_InheritedIdentityTelemetryAndProxyVariables_AreWithheld()
    {
        var inherited = new Dictionary<string, string?>
        {
            ["PATH"] = "/usr/bin",
            ["HOME"] = "/root",
            ["AZURE_CLIENT_ID"] = "c",
            ["AZURE_TENANT_ID"] = "t",
            ["AZURE_CLIENT_SECRET"] = "s3cr3t",
            ["MSI_ENDPOINT"] = "e",
            ["MSI_SECRET"] = "s",
            ["IDENTITY_ENDPOINT"] = "e",
            ["IDENTITY_HEADER"] = "h",
            ["IDENTITY_SERVER_THUMBPRINT"] = "t",
            ["IMDS_ENDPOINT"] = "i",
            ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = "InstrumentationKey=x",
            ["http_proxy"] = "p",
            ["HTTPS_PROXY"] = "p",
            ["no_proxy"] = "n",
            ["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=https;AccountKey=k",
            ["Functions__Worker__HostEndpoint"] = "http://elsewhere/",
        };

        var (variables, removed) = WorkerEnvironment.Build(inherited, AppDirectory, []);

        variables.Keys.Should().Contain(["PATH", "HOME"]);
        removed.Should().HaveCount(inherited.Count - 2);
        variables.Keys.Should().NotContain(removed);
        removed.Should().NotContain(name => name.Contains("s3cr3t", StringComparison.Ordinal), "only names are reported");
    }

    [Fact]
    public void EnvironmentBuild_InheritedFunctionDisabledSettings_ReachTheWorkerWhileOtherHostSettingsAreWithheld()
    {
        var inherited = new Dictionary<string, string?>
        {
            ["AzureWebJobs__Health__Disabled"] = "true",
            ["AzureWebJobs.ProcessRunStep.Disabled"] = "1",
            ["azurewebjobs__Scheduled_Run-2__disabled"] = "true",
            ["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=https;AccountKey=k",
            ["AzureWebJobsStorage__queueServiceUri"] = "https://elsewhere.queue.core.windows.net",
            ["AzureWebJobsSecretStorageType"] = "blob",
            ["AzureWebJobs__Disabled"] = "true",
            ["AzureWebJobs.Health.Disabled.Storage"] = "x",
            ["AzureWebJobs__Health.Disabled"] = "true",
            ["Identity__Source"] = "ManagedIdentity",
            ["IDENTITY__MANAGEDIDENTITYCLIENTID"] = "00000000-0000-0000-0000-000000000001",
            ["IDENTITY_ENDPOINT"] = "http://elsewhere/msi/token",
        };

        var (variables, removed) = WorkerEnvironment.Build(inherited, AppDirectory, []);

        variables.Should().Contain(new Dictionary<string, string>
        {
            ["AzureWebJobs__Health__Disabled"] = "true",
            ["AzureWebJobs.ProcessRunStep.Disabled"] = "1",
            ["azurewebjobs__Scheduled_Run-2__disabled"] = "true",
            ["Identity__Source"] = "ManagedIdentity",
            ["IDENTITY__MANAGEDIDENTITYCLIENTID"] = "00000000-0000-0000-0000-000000000001",
        });
        removed.Should().BeEquivalentTo(
            "IDENTITY_ENDPOINT", "AzureWebJobsStorage", "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsSecretStorageType",
            "AzureWebJobs__Disabled", "AzureWebJobs.Health.Disabled.Storage", "AzureWebJobs__Health.Disabled");
    }

    [Fact]
    public void EnvironmentBuild_Always_SetsWhatTheFunctionsHostSets()
    {
        var (variables, _) = WorkerEnvironment.Build([], AppDirectory + "/", []);

        variables.Should().Contain(new Dictionary<string, string>
        {
            ["FUNCTIONS_WORKER_DIRECTORY"] = AppDirectory,
            ["FUNCTIONS_APPLICATION_DIRECTORY"] = AppDirectory,
            ["AzureWebJobsScriptRoot"] = AppDirectory,
            ["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated",
            ["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development",
        });
    }

    [Fact]
    public void EnvironmentBuild_OptionVariables_AreAppliedAfterCleaning()
    {
        var inherited = new Dictionary<string, string?>
        {
            ["HTTPS_PROXY"] = "http://corporate:3128",
            ["IDENTITY_ENDPOINT"] = "x",
        };
        var overrides = new Dictionary<string, string>
        {
            ["HTTPS_PROXY"] = "http://127.0.0.1:9000",
            ["IDENTITY_ENDPOINT"] = "http://127.0.0.1:9001/token",
            ["AZURE_FUNCTIONS_ENVIRONMENT"] = "Testing",
        };

        var (variables, _) = WorkerEnvironment.Build(inherited, AppDirectory, overrides);

        variables["HTTPS_PROXY"].Should().Be("http://127.0.0.1:9000");
        variables["IDENTITY_ENDPOINT"].Should().Be("http://127.0.0.1:9001/token");
        variables["AZURE_FUNCTIONS_ENVIRONMENT"].Should().Be("Testing");
    }

    [Fact]
    public void BuildHostArguments_Always_PassesBothStylesWithMaxMessageLength()
    {
        var arguments = WorkerLaunchSpec.BuildHostArguments(5123, "w-1", "r-1");

        string.Join(' ', arguments).Should().Be(
            "--host 127.0.0.1 --port 5123 --workerId w-1 --requestId r-1 --grpcMaxMessageLength 2147483647 " +
            "--functions-uri http://127.0.0.1:5123/ --functions-worker-id w-1 --functions-request-id r-1 " +
            "--functions-grpc-max-message-length 2147483647");
    }

    [Fact]
    public void Create_SdkWorkerConfig_RunsDotnetWithTheWorkerDllFirst()
    {
        var config = WorkerConfig.Parse(
            """
            {"description":{"language":"dotnet-isolated","defaultExecutablePath":"dotnet",
             "defaultWorkerPath":"AgentFunctions.dll","workerIndexing":"true"}}
            """,
            AppDirectory);

        var spec = WorkerLaunchSpec.Create(config, AppDirectory, 5123, "w-1", "r-1", new Dictionary<string, string>());

        spec.FileName.Should().Be("dotnet");
        spec.Arguments[0].Should().Be(Path.GetFullPath("/apps/agent/AgentFunctions.dll"));
        spec.Arguments.Should().Contain("--functions-uri");
        spec.WorkingDirectory.Should().Be(AppDirectory);
        config.WorkerIndexing.Should().BeTrue();
    }

    [Fact]
    public void Parse_SelfContainedWorkerRoot_ExpandsToAppDirectory()
    {
        var config = WorkerConfig.Parse(
            """
            {"description":{"defaultExecutablePath":"{WorkerRoot}AgentFunctions","defaultWorkerPath":"",
             "workerIndexing":true}}
            """,
            AppDirectory);

        config.ExecutablePath.Should().Be(AppDirectory + Path.DirectorySeparatorChar + "AgentFunctions");
        config.WorkerPath.Should().BeNull();
    }

    [Fact]
    public void Load_FolderWithoutBuildOutput_SaysToBuildFirst()
    {
        var empty = Directory.CreateTempSubdirectory("agentfunctions-empty-");
        try
        {
            var act = () => WorkerConfig.Load(empty.FullName);

            act.Should().Throw<FunctionsHostException>()
                .WithMessage($"*'{empty.FullName}'*worker.config.json is missing*dotnet build AgentFunctions.sln*");
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }
}
