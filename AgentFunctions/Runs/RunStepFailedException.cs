namespace AgentFunctions.Runs;

/// <summary>
/// What a failed step throws to the Functions host, so that the queue retries the message or moves it to the poison queue.
/// </summary>
/// <remarks>
/// It stands in for the exception the step met, which is not passed on: the worker logs an invocation's exception in
/// full, inner exceptions included, and those carry the services' own error text, which has not passed the key filter.
/// The message is the operator's description the step already logged, filtered and cut to length.
/// </remarks>
public sealed class RunStepFailedException : Exception
{
    public RunStepFailedException()
    {
    }

    public RunStepFailedException(string message)
        : base(message)
    {
    }

    public RunStepFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
