using AgentFunctions.DevHost.Functions;
using AgentFunctions.DevHost.Functions.Http;
using AgentFunctions.DevHost.Functions.Metadata;

namespace AgentFunctions.Tests.LocalHost;

public sealed class FunctionMetadataParserTests
{
    [Fact]
    public void Parse_RealHealthBindings_ServesApiHealthForGetOnly()
    {
        var function = TestFunctions.Health();

        function.TriggerType.Should().Be("httpTrigger");
        function.Trigger!.Name.Should().Be("request");
        function.HttpRoute.Should().Be("api/health");
        function.HttpMethods.Should().Equal("GET");
        function.HttpOutput!.Name.Should().Be("$return");
        function.RawBindings.Should().Equal(TestFunctions.HealthTrigger, TestFunctions.HttpReturn);
    }

    [Fact]
    public void Parse_RouteWrittenAsNamedArgument_ReadsItIgnoringCase()
    {
        var function = TestFunctions.Create("GetItem",
            """
            {"name":"req","type":"HttpTrigger","direction":"In","authLevel":"Function","methods":["get","POST"],
             "Route":"items/{id:int}/{name?}"}
            """);

        function.HttpRoute.Should().Be("api/items/{id:int}/{name?}");
        function.HttpMethods.Should().Equal("GET", "POST");
    }

    [Fact]
    public void Parse_NoRouteAndNoMethods_UsesFunctionNameAndAllowsEveryMethod()
    {
        var function = TestFunctions.Create("Echo",
            """{"name":"req","type":"httpTrigger","direction":"In","authLevel":"Anonymous"}""");

        function.HttpRoute.Should().Be("api/Echo");
        function.HttpMethods.Should().BeEmpty();
        function.HttpOutput.Should().BeNull();
    }

    [Fact]
    public void Parse_QueueTrigger_IsNotServedOverHttpButKeepsItsSettings()
    {
        var function = TestFunctions.Create("Worker",
            """{"name":"message","type":"queueTrigger","direction":"In","queueName":"jobs","Connection":"Storage"}""",
            """{"name":"$return","type":"queue","direction":"Out","queueName":"results"}""");

        function.TriggerType.Should().Be("queueTrigger");
        function.HttpRoute.Should().BeNull();
        function.Trigger!.GetString("QUEUENAME").Should().Be("jobs");
        function.Trigger.GetString("connection").Should().Be("Storage");
        function.Bindings[1].IsOutput.Should().BeTrue();
    }

    [Theory]
    [InlineData("", "health")]
    [InlineData("v1", "v1/health")]
    [InlineData("/v1/", "v1/health")]
    public void Parse_RoutePrefixFromHostJson_IsApplied(string prefix, string expected)
    {
        var hostJson = """{"version":"2.0","extensions":{"http":{"routePrefix":"PREFIX"}}}""";
        var settings = HostJsonSettings.Parse(hostJson.Replace("PREFIX", prefix, StringComparison.Ordinal));

        TestFunctions.Create("Health", settings, TestFunctions.HealthTrigger).HttpRoute.Should().Be(expected);
    }

    [Fact]
    public void HostJsonParse_NoHttpSection_DefaultsToApi()
    {
        var settings = HostJsonSettings.Parse("""
            // comments are allowed in host.json
            { "version": "2.0", "logging": {}, }
            """);

        settings.RoutePrefix.Should().Be("api");
    }

    [Fact]
    public void Parse_BindingWithoutType_ThrowsNamingTheFunction()
    {
        var act = () => TestFunctions.Create("Broken", """{"name":"req","direction":"In"}""");

        act.Should().Throw<FunctionsHostException>().WithMessage("*'Broken'*name*type*");
    }

    [Fact]
    public void RouteTableCreate_UnparsableTemplate_ThrowsNamingFunctionAndTemplate()
    {
        var function = TestFunctions.Create("Bad",
            """{"name":"req","type":"httpTrigger","direction":"In","route":"items/{id"}""");

        var act = () => HttpRouteTable.Create([function]);

        act.Should().Throw<FunctionsHostException>().WithMessage("*'Bad'*items/{id*");
    }

    [Fact]
    public void FunctionsMetadataFileParse_RealBuildOutput_YieldsHealthWithRawBindingsAndNewIds()
    {
        var appDirectory = FunctionsHostOptions.ForBuiltApp().AppDirectory;
        var json = File.ReadAllText(Path.Combine(appDirectory, FunctionsMetadataFile.FileName));

        var functions = FunctionsMetadataFile.Parse(json, appDirectory);
        var health = functions.Single(function => function.Name == "Health");
        var loaded = FunctionMetadataParser.Parse(health, HostJsonSettings.Default);

        Guid.TryParse(health.FunctionId, out _).Should().BeTrue();
        health.Bindings["request"].Type.Should().Be("httpTrigger");
        loaded.HttpRoute.Should().Be("api/health");
        loaded.HttpMethods.Should().Equal("GET");
    }
}
