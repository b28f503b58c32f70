using AgentFunctions.Credentials;

namespace AgentFunctions.Tests.Credentials;

/// <summary>
/// A vault stand-in for cache rules that need exact control of time and failures; the real SecretClient against the
/// Key Vault double is covered elsewhere.
/// </summary>
internal sealed class FakeSecretSource(TimeProvider time) : ISecretSource
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _hold;
    private string _value = "fake-key-one-0000000000000000000001";
    private string _version = "version1";
    private SecretSourceException? _failure;
    private int _reads;

    public string Description => "secret 'fake' in https://fake.vault.test";

    public int Reads => Volatile.Read(ref _reads);

    public void SetSecret(string value, string version)
    {
        lock (_gate)
        {
            (_value, _version) = (value, version);
        }
    }

    public void FailWith(SecretSourceFailure failure, TimeSpan? retryAfter = null, int? status = 503)
    {
        lock (_gate)
        {
            _failure = new SecretSourceException(failure, $"The fake vault failed ({failure}).", retryAfter, status);
        }
    }

    public void Recover()
    {
        lock (_gate)
        {
            _failure = null;
        }
    }

    /// <summary>Makes reads wait until <see cref="Release"/>, so that tests can pile callers up behind one read.</summary>
    public void Hold()
    {
        lock (_gate)
        {
            _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Release()
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            (hold, _hold) = (_hold, null);
        }

        hold?.SetResult();
    }

    public async Task<SecretSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        Task? hold;
        lock (_gate)
        {
            hold = _hold?.Task;
        }

        if (hold is not null)
        {
            await hold.ConfigureAwait(false);
        }

        lock (_gate)
        {
            if (_failure is { } failure)
            {
                throw failure;
            }

            return new SecretSnapshot(_value, _version, time.GetUtcNow());
        }
    }
}
