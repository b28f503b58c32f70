namespace AgentFunctions.Tests.Infrastructure;

/// <summary>Lookups over the resources of one scenario.</summary>
internal static class ArmResourceQueries
{
    public const string RoleAssignmentType = "Microsoft.Authorization/roleAssignments";
    public const string SiteType = "Microsoft.Web/sites";
    public const string SecretType = "Microsoft.KeyVault/vaults/secrets";

    /// <summary>Resources the deployment creates or updates: condition true, not an "existing" reference.</summary>
    public static IEnumerable<ArmResource> Deployed(this IEnumerable<ArmResource> resources) =>
        resources.Where(r => r.Deployed && !r.Existing);

    public static IEnumerable<ArmResource> OfType(this IEnumerable<ArmResource> resources, string type) =>
        resources.Deployed().Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase));

    public static ArmResource Single(this IEnumerable<ArmResource> resources, string type)
    {
        var matches = resources.OfType(type).ToList();
        return matches.Count == 1
            ? matches[0]
            : throw new InvalidOperationException(
                $"Expected one deployed {type}, found {matches.Count}: {string.Join(", ", matches)}");
    }

    public static ArmResource FunctionApp(this IEnumerable<ArmResource> resources) => resources.Single(SiteType);

    /// <summary>The function app's settings, name to evaluated value.</summary>
    public static Dictionary<string, object?> AppSettings(this IEnumerable<ArmResource> resources)
    {
        var settings = resources.FunctionApp().Evaluate("properties", "siteConfig", "appSettings") as List<object?>
            ?? throw new InvalidOperationException("The function app has no evaluable siteConfig.appSettings.");
        return settings.Cast<Dictionary<string, object?>>()
            .ToDictionary(s => (string)s["name"]!, s => s["value"], StringComparer.Ordinal);
    }

    public static IEnumerable<ArmResource> RoleAssignments(this IEnumerable<ArmResource> resources) =>
        resources.OfType(RoleAssignmentType);

    /// <summary>The role GUID at the end of a role assignment's roleDefinitionId.</summary>
    public static string RoleGuid(this ArmResource assignment)
    {
        var definition = ArmScope.Render(assignment.Evaluate("properties", "roleDefinitionId"));
        const string Prefix = "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '";
        return definition.StartsWith(Prefix, StringComparison.Ordinal) && definition.EndsWith("')", StringComparison.Ordinal)
            ? definition[Prefix.Length..^2]
            : throw new InvalidOperationException($"{assignment} names its role as {definition}, not by a built-in role GUID.");
    }

    /// <summary>The evaluated scope of an extension resource (a role assignment), as expression text.</summary>
    public static string ScopeText(this ArmResource assignment) => ArmScope.Render(assignment.Evaluate("scope"));
}
