namespace AgentFunctions.Tests;

public sealed class ScaffoldTests
{
    [Fact]
    public void HealthFunction_IsDiscoverable() =>
        typeof(AgentFunctions.Functions.HealthFunction).GetMethod("Run").Should().NotBeNull();
}
