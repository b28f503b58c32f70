namespace AgentFunctions.DevHost.Doubles;

/// <summary>The two access keys of an Azure OpenAI account, named as the management API names them.</summary>
internal enum KeyName
{
    Key1,
    Key2,
}

/// <summary>
/// The account's current keys, as <c>listKeys</c> returns them to an operator.
/// </summary>
/// <remarks>A class, not a record, so that printing it in a log or an assertion message never shows a key.</remarks>
internal sealed class AccountKeys(string key1, string key2)
{
    public string Key1 { get; } = key1;

    public string Key2 { get; } = key2;

    public string this[KeyName name] => name == KeyName.Key1 ? Key1 : Key2;

    public override string ToString() => "AccountKeys { Key1 = (redacted), Key2 = (redacted) }";
}
