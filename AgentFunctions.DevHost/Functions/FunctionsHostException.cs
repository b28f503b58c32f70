namespace AgentFunctions.DevHost.Functions;

/// <summary>
/// The local Functions host could not start or drive the worker. The message says what went wrong and what to do next;
/// it never carries exception text produced by function code.
/// </summary>
public sealed class FunctionsHostException : Exception
{
    public FunctionsHostException()
    {
    }

    public FunctionsHostException(string message)
        : base(message)
    {
    }

    public FunctionsHostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
