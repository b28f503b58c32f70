using System.Diagnostics;

namespace AgentFunctions.Tests.Infrastructure;

/// <summary>
/// infra/scripts/rotate-openai-key.sh, run by bash against a stand-in 'az' that keeps the account's two keys and the
/// vault secret in files. The stand-in answers only the commands the script uses and records every call.
/// </summary>
public sealed class RotationScriptTests : IDisposable
{
    private const string FakeAz = """
        #!/usr/bin/env bash
        # Stand-in for the Azure CLI: state lives in $FAKE_AZ_STATE, every call is appended to calls.log.
        set -euo pipefail
        state="${FAKE_AZ_STATE:?}"
        echo "$*" >> "$state/calls.log"
        arg() { local name="$1"; shift; while [[ $# -gt 0 ]]; do [[ "$1" == "$name" ]] && { echo "$2"; return; }; shift; done; }
        next_key() { local n; n=$(( $(cat "$state/counter") + 1 )); echo "$n" > "$state/counter"; printf 'fake-key-%04d' "$n"; }
        case "$1 $2" in
          "account show") exit 0 ;;
          "functionapp config") echo "${FAKE_TTL:-}" ;;
          "cognitiveservices account")
            case "$3" in
              show) echo "${FAKE_DISABLE_LOCAL_AUTH:-false}" ;;
              keys)
                case "$4" in
                  list) cat "$state/$(arg --query "$@")" ;;
                  regenerate)
                    slot=$(arg --key-name "$@" | tr '[:upper:]' '[:lower:]')
                    next_key > "$state/$slot"
                    query=$(arg --query "$@")
                    if [[ -n "$query" ]]; then cat "$state/$query"; fi ;;
                esac ;;
            esac ;;
          "keyvault secret")
            case "$3" in
              show)
                reads=$(( $(cat "$state/reads") + 1 )); echo "$reads" > "$state/reads"
                # FAKE_TAMPER_AT_READ=n: from the n-th read on, someone has put key1 back (a redeployment).
                if [[ -n "${FAKE_TAMPER_AT_READ:-}" && "$reads" -ge "$FAKE_TAMPER_AT_READ" ]]; then
                  cp "$state/key1" "$state/secret"
                fi
                cat "$state/secret" ;;
              set) cp "$(arg --file "$@")" "$state/secret" ;;
            esac ;;
          *) echo "fake az: unexpected call: $*" >&2; exit 2 ;;
        esac
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("agentfunctions-rotation-").FullName;

    private static string Script => Path.Combine(InfrastructureFixture.InfraFolder, "scripts", "rotate-openai-key.sh");

    private string State => Path.Combine(_folder, "state");

    [Fact]
    public async Task Script_Syntax_PassesBashCheck()
    {
        var result = await RunAsync("bash", "-n", Script);

        result.ExitCode.Should().Be(0, result.Output);
    }

    [Fact]
    public void Script_File_IsExecutable()
    {
        if (OperatingSystem.IsLinux())
        {
            File.GetUnixFileMode(Script).Should().HaveFlag(UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public async Task Rotate_VaultHoldsKey1_RetiresKey1OnlyAfterTheVaultHoldsANewKey2()
    {
        Arrange(vaultHolds: "key1");

        var result = await RotateAsync();

        result.ExitCode.Should().Be(0, result.Output);
        Calls().Where(c => c.Contains("regenerate", StringComparison.Ordinal) ||
                c.StartsWith("keyvault secret set", StringComparison.Ordinal))
            .Select(c => c.Contains("--key-name Key2", StringComparison.Ordinal) ? "regenerate Key2"
                : c.Contains("--key-name Key1", StringComparison.Ordinal) ? "regenerate Key1" : "store secret")
            .Should().Equal("regenerate Key2", "store secret", "regenerate Key1");
        Read("secret").Should().Be(Read("key2"), "the vault ends up holding the regenerated key2");
        Read("key1").Should().NotBe("fake-key-0001", "key1 was regenerated last");
    }

    [Fact]
    public async Task Rotate_VaultHoldsKey2_RegeneratesKey1First()
    {
        Arrange(vaultHolds: "key2");

        var result = await RotateAsync();

        result.ExitCode.Should().Be(0, result.Output);
        Calls().First(c => c.Contains("regenerate", StringComparison.Ordinal)).Should().Contain("--key-name Key1");
        Read("secret").Should().Be(Read("key1"));
    }

    [Fact]
    public async Task Rotate_AnyRun_NeverPrintsOrPassesAKeyValue()
    {
        Arrange(vaultHolds: "key1");

        var result = await RotateAsync();

        var keys = new[] { "fake-key-0001", "fake-key-0002", Read("key1"), Read("key2") };
        result.Output.Should().NotContainAny(keys);
        File.ReadAllText(Path.Combine(State, "calls.log")).Should().NotContainAny(keys, "command lines are visible to other users");
    }

    [Fact]
    public async Task Rotate_VaultChangedDuringTheWait_StopsBeforeRetiringTheKeyInUse()
    {
        // Reads: 1 = which key, 2 = check after storing, 3 = check after the wait (tampered).
        Arrange(vaultHolds: "key1");

        var result = await RotateAsync(("FAKE_TAMPER_AT_READ", "3"));

        result.ExitCode.Should().NotBe(0);
        result.Output.Should().Contain("was NOT regenerated");
        Calls().Should().NotContain(c => c.Contains("--key-name Key1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rotate_VaultHoldsNeitherKey_ChangesNothing()
    {
        Arrange(vaultHolds: "neither");

        var result = await RotateAsync();

        result.ExitCode.Should().NotBe(0);
        result.Output.Should().Contain("neither key1 nor key2");
        Calls().Should().NotContain(c =>
            c.Contains("regenerate", StringComparison.Ordinal) || c.Contains("secret set", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rotate_KeylessAccount_HasNothingToRotate()
    {
        Arrange(vaultHolds: "key1");

        var result = await RotateAsync(("FAKE_DISABLE_LOCAL_AUTH", "true"));

        result.ExitCode.Should().NotBe(0);
        result.Output.Should().Contain("keyless mode");
        Calls().Should().NotContain(c => c.Contains("regenerate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rotate_WaitShorterThanTheAppTimeToLive_IsRefused()
    {
        Arrange(vaultHolds: "key1");

        var result = await RotateAsync(("FAKE_TTL", "00:05:00"));

        result.ExitCode.Should().NotBe(0);
        result.Output.Should().Contain("shorter than KeyCache__TimeToLive (300 s)");
        Calls().Should().NotContain(c => c.Contains("regenerate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Help_DefaultWait_CoversTheDefaultTimeToLivePlusAMargin()
    {
        var result = await RunAsync("bash", Script, "--help");

        result.ExitCode.Should().Be(0);
        result.Output.Should().Contain("which is 420 s when the setting is absent", "5 min time to live + 2 min margin");
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private void Arrange(string vaultHolds)
    {
        Directory.CreateDirectory(State);
        var bin = Directory.CreateDirectory(Path.Combine(_folder, "bin")).FullName;
        File.WriteAllText(Path.Combine(bin, "az"), FakeAz.ReplaceLineEndings("\n") + "\n");
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(
                Path.Combine(bin, "az"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        File.WriteAllText(Path.Combine(State, "key1"), "fake-key-0001");
        File.WriteAllText(Path.Combine(State, "key2"), "fake-key-0002");
        File.WriteAllText(Path.Combine(State, "counter"), "2");
        File.WriteAllText(Path.Combine(State, "reads"), "0");
        File.WriteAllText(Path.Combine(State, "secret"), vaultHolds switch
        {
            "key1" => "fake-key-0001",
            "key2" => "fake-key-0002",
            _ => "fake-key-stale",
        });
    }

    private Task<(int ExitCode, string Output)> RotateAsync(params (string Name, string Value)[] environment)
    {
        // A zero time to live lets the test skip the wait; the ordering of the steps is what is under test.
        var variables = new List<(string, string)> { ("FAKE_TTL", "00:00:00") };
        variables.AddRange(environment);
        return RunAsync(variables, "bash", Script, "--resource-group", "rg-ci", "--openai-name", "oai-ci",
            "--vault-name", "kv-ci", "--function-app", "func-ci", "--wait-seconds", "0");
    }

    private Task<(int ExitCode, string Output)> RunAsync(string fileName, params string[] arguments) =>
        RunAsync([], fileName, arguments);

    private async Task<(int ExitCode, string Output)> RunAsync(
        IEnumerable<(string Name, string Value)> environment, string fileName, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var path = Environment.GetEnvironmentVariable("PATH");
        startInfo.Environment["PATH"] = $"{Path.Combine(_folder, "bin")}{Path.PathSeparator}{path}";
        startInfo.Environment["FAKE_AZ_STATE"] = State;
        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }

        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    private string[] Calls() => File.ReadAllLines(Path.Combine(State, "calls.log"));

    private string Read(string file) => File.ReadAllText(Path.Combine(State, file));
}
