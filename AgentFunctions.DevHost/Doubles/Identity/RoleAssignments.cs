namespace AgentFunctions.DevHost.Doubles;

/// <summary>The built-in Azure roles the doubles understand, by their fixed definition ids.</summary>
internal static class AzureRoles
{
    /// <summary>Key Vault Secrets User: read secret contents and metadata.</summary>
    public const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";

    /// <summary>Key Vault Secrets Officer: every action on secrets, including set.</summary>
    public const string KeyVaultSecretsOfficer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

    /// <summary>Cognitive Services OpenAI User: call inference on deployments, without managing them.</summary>
    public const string CognitiveServicesOpenAIUser = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd";

    /// <summary>Data actions the doubles check.</summary>
    public static class Actions
    {
        public const string GetSecret = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
        public const string SetSecret = "Microsoft.KeyVault/vaults/secrets/setSecret/action";
        public const string ReadSecretMetadata = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
        public const string ChatCompletions =
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action";
    }

    // The slice of each role's data actions that the doubles can be asked for.
    private static readonly Dictionary<string, string[]> s_dataActions = new(StringComparer.OrdinalIgnoreCase)
    {
        [KeyVaultSecretsUser] = [Actions.GetSecret, Actions.ReadSecretMetadata],
        [KeyVaultSecretsOfficer] = [Actions.GetSecret, Actions.SetSecret, Actions.ReadSecretMetadata],
        [CognitiveServicesOpenAIUser] = [Actions.ChatCompletions],
    };

    public static bool Grants(string roleDefinitionId, string action) =>
        s_dataActions.TryGetValue(roleDefinitionId, out var actions) &&
        actions.Contains(action, StringComparer.OrdinalIgnoreCase);
}

/// <summary>One role assignment: a principal holds a role at a scope and everything below it.</summary>
/// <param name="Id">32 hex characters, what Key Vault reports in <c>x-ms-keyvault-rbac-assignment-id</c>.</param>
internal sealed record RoleAssignment(string Id, string PrincipalObjectId, string RoleDefinitionId, string Scope);

/// <summary>
/// The role assignments of one double's resource. A scope is an Azure resource id; an assignment applies to its
/// scope and to every resource id under it, as Azure RBAC inheritance does.
/// </summary>
internal sealed class RoleAssignments
{
    private readonly Lock _gate = new();
    private readonly List<RoleAssignment> _assignments = [];

    public IReadOnlyList<RoleAssignment> All
    {
        get
        {
            lock (_gate)
            {
                return [.. _assignments];
            }
        }
    }

    public RoleAssignment Grant(string principalObjectId, string roleDefinitionId, string scope)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(principalObjectId);
        ArgumentException.ThrowIfNullOrWhiteSpace(roleDefinitionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        lock (_gate)
        {
            var existing = _assignments.Find(a => Matches(a, principalObjectId, roleDefinitionId, scope));
            if (existing is not null)
            {
                return existing;
            }

            var id = Guid.NewGuid().ToString("N");
            var assignment = new RoleAssignment(id, principalObjectId, roleDefinitionId, scope);
            _assignments.Add(assignment);
            return assignment;
        }
    }

    public bool Revoke(string principalObjectId, string roleDefinitionId, string scope)
    {
        lock (_gate)
        {
            return _assignments.RemoveAll(a => Matches(a, principalObjectId, roleDefinitionId, scope)) > 0;
        }
    }

    /// <summary>The assignment that lets the principal perform the action on the resource, or null.</summary>
    public RoleAssignment? FindGrant(string principalObjectId, string action, string resourceId)
    {
        lock (_gate)
        {
            return _assignments.Find(a =>
                string.Equals(a.PrincipalObjectId, principalObjectId, StringComparison.OrdinalIgnoreCase) &&
                AzureRoles.Grants(a.RoleDefinitionId, action) &&
                Covers(a.Scope, resourceId));
        }
    }

    private static bool Covers(string scope, string resourceId)
    {
        var trimmed = scope.TrimEnd('/');
        return string.Equals(trimmed, resourceId, StringComparison.OrdinalIgnoreCase) ||
            resourceId.StartsWith(trimmed + "/", StringComparison.OrdinalIgnoreCase);
    }

    private static bool Matches(RoleAssignment a, string principalObjectId, string roleDefinitionId, string scope) =>
        string.Equals(a.PrincipalObjectId, principalObjectId, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(a.RoleDefinitionId, roleDefinitionId, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(a.Scope.TrimEnd('/'), scope.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
}
