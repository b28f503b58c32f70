using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace AgentFunctions.DevHost.Functions.Storage;

/// <summary>
/// Server certificate validation against the roots in a PEM bundle: the file the app's <c>SSL_CERT_FILE</c> names. The
/// worker trusts exactly that bundle (.NET on Linux reads the variable); the host, which shares the app's settings but
/// not its process, trusts the same roots through this callback, so both accept the same storage endpoints.
/// </summary>
internal sealed class TrustBundle
{
    private readonly X509Certificate2Collection _roots;

    private TrustBundle(X509Certificate2Collection roots) => _roots = roots;

    public static TrustBundle Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException
            or System.Security.Cryptography.CryptographicException)
        {
            throw new FunctionsHostException(
                $"The certificate bundle that SSL_CERT_FILE names ('{path}') cannot be read: {exception.Message}", exception);
        }

        return new TrustBundle(roots);
    }

    /// <summary>
    /// Accepts a certificate the platform accepts, or one whose only fault is a chain that ends at a root of this bundle.
    /// A name mismatch or a missing certificate is never excused.
    /// </summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var bundleChain = new X509Chain();
        bundleChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        bundleChain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        bundleChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements.Skip(1))
            {
                bundleChain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return bundleChain.Build(leaf);
    }
}
