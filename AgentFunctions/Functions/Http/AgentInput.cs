using System.Net;
using System.Text.Json;
using AgentFunctions.Configuration;
using Microsoft.Azure.Functions.Worker.Http;

namespace AgentFunctions.Functions.Http;

/// <summary>The agent request body <c>{"input": "..."}</c>, read within the size limits, or the problem it has.</summary>
internal static class AgentInput
{
    private static readonly byte[] Utf8ByteOrderMark = [0xEF, 0xBB, 0xBF];

    public static async Task<ParsedInput> ReadAsync(HttpRequestData request, AgentsOptions options, CancellationToken cancellationToken)
    {
        var bytes = await RequestBody.ReadAtMostAsync(request.Body, options.MaxRequestBytes, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return ParsedInput.Fail(HttpStatusCode.RequestEntityTooLarge, "body-too-large", "Request body too large",
                $"The request body is larger than {options.MaxRequestBytes} bytes (setting Agents:MaxRequestBytes).");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(WithoutByteOrderMark(bytes),
                new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false });
        }
        catch (JsonException)
        {
            return ParsedInput.Fail(HttpStatusCode.BadRequest, "invalid-json", "Invalid JSON",
                "The request body is not valid JSON, or names a property twice. Send {\"input\": \"...\"}.");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "invalid-json", "Invalid JSON",
                    "The request body must be a JSON object: {\"input\": \"...\"}.");
            }

            // Strict on purpose: a caller who sends a field this API does not read (instructions, tools, a step limit)
            // expects it to take effect, and silently ignoring it would lose what they asked for.
            if (root.EnumerateObject().FirstOrDefault(p => p.Name != "input") is { Value.ValueKind: not JsonValueKind.Undefined } unknown)
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "unknown-property", "Unknown property",
                    $"The request body has a property '{Truncate(unknown.Name)}' that this API does not read; the only property is 'input'.");
            }

            if (!root.TryGetProperty("input", out var input))
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "missing-input", "Missing input",
                    "The request body has no 'input' property. Send {\"input\": \"...\"}.");
            }

            // A null input is no input, so it keeps the absent property's code; the detail says what was actually sent.
            if (input.ValueKind == JsonValueKind.Null)
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "missing-input", "Missing input",
                    "'input' is null. Send the text as a string: {\"input\": \"...\"}.");
            }

            if (input.ValueKind != JsonValueKind.String)
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "invalid-input", "Invalid input",
                    $"'input' must be a string; it is {input.ValueKind.ToString().ToLowerInvariant()}.");
            }

            string text;
            try
            {
                text = input.GetString()!;
            }
            catch (InvalidOperationException)
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "invalid-input", "Invalid input",
                    "'input' is not valid text: it holds an unpaired surrogate or bytes that are not UTF-8.");
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "empty-input", "Empty input", "'input' must not be empty.");
            }

            if (text.Length > options.MaxInputCharacters)
            {
                return ParsedInput.Fail(HttpStatusCode.BadRequest, "input-too-long", "Input too long",
                    $"'input' has {text.Length} characters; the limit is {options.MaxInputCharacters} (setting Agents:MaxInputCharacters).");
            }

            return new ParsedInput(text, null);
        }
    }

    // RFC 8259 lets a parser ignore a leading byte order mark, and some clients (Windows tools writing files as UTF-8 with
    // a signature) send one; refusing it as invalid JSON would blame the caller for text that is valid.
    private static ReadOnlyMemory<byte> WithoutByteOrderMark(byte[] body) =>
        body.AsSpan().StartsWith(Utf8ByteOrderMark) ? body.AsMemory(Utf8ByteOrderMark.Length) : body;

    public static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "…");
}

internal sealed record ParsedInput(string? Input, ParsedInputProblem? Problem)
{
    public static ParsedInput Fail(HttpStatusCode status, string code, string title, string detail) =>
        new(null, new ParsedInputProblem(status, code, title, detail));
}

internal sealed record ParsedInputProblem(HttpStatusCode Status, string Code, string Title, string Detail)
{
    public Task<HttpResponseData> WriteAsync(HttpRequestData request) => Problems.WriteAsync(request, Status, Code, Title, Detail);
}
