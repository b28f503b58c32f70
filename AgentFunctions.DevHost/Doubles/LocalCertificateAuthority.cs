using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AgentFunctions.DevHost.Doubles;

/// <summary>
/// A certificate authority that exists only in this process: an ECDSA P-256 root made fresh on every run,
/// and one server certificate it issued for the names the HTTPS doubles answer on.
/// </summary>
/// <remarks>
/// Nothing is added to a machine or user trust store. A child process trusts the doubles through
/// <c>SSL_CERT_FILE</c> pointing at <see cref="WriteTrustBundle"/>'s file; code in this process trusts them
/// through <see cref="ValidateServerCertificate"/>, which accepts only chains that end at this root.
/// </remarks>
internal sealed class LocalCertificateAuthority : IDisposable
{
    /// <summary>Where Debian and Ubuntu keep the system's trusted roots as one PEM file.</summary>
    public const string DefaultSystemBundlePath = "/etc/ssl/certs/ca-certificates.crt";

    // Both certificates outlive any test run or local session by far, yet expire before anyone could
    // mistake a leaked copy for something durable.
    private static readonly TimeSpan s_validity = TimeSpan.FromDays(2);
    private static readonly TimeSpan s_clockSkewAllowance = TimeSpan.FromMinutes(5);

    private readonly X509Certificate2 _root;
    private readonly List<string> _writtenBundles = [];
    private readonly Lock _gate = new();

    public LocalCertificateAuthority(TimeProvider? timeProvider = null)
    {
        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        _root = CreateRoot(now);
        ServerCertificate = Issue(
            now,
            dnsNames: ["*.vault.localhost", "*.openai.localhost", "localhost"],
            addresses: [IPAddress.Loopback]);
        Certificate = X509CertificateLoader.LoadCertificate(_root.RawDataMemory.Span);
        CertificatePem = _root.ExportCertificatePem();
    }

    /// <summary>The root certificate, public part only.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The root certificate in PEM form, as it goes into a trust bundle.</summary>
    public string CertificatePem { get; }

    /// <summary>
    /// The server certificate (with its private key) for <c>*.vault.localhost</c>, <c>*.openai.localhost</c>,
    /// <c>localhost</c> and <c>127.0.0.1</c>.
    /// </summary>
    public X509Certificate2 ServerCertificate { get; }

    /// <summary>
    /// Writes the system's trusted roots followed by this authority's root to a new file and returns its path,
    /// for a child process's <c>SSL_CERT_FILE</c>. The file is deleted when this authority is disposed.
    /// </summary>
    /// <param name="systemBundlePath">
    /// The system bundle to start from; when that file does not exist the bundle holds this root alone.
    /// </param>
    public string WriteTrustBundle(string systemBundlePath = DefaultSystemBundlePath)
    {
        var path = Path.Combine(Path.GetTempPath(), $"agentfunctions-local-ca-{Guid.NewGuid():N}.pem");
        var system = File.Exists(systemBundlePath) ? File.ReadAllText(systemBundlePath) : string.Empty;
        if (system.Length > 0 && !system.EndsWith('\n'))
        {
            system += "\n";
        }

        File.WriteAllText(path, system + CertificatePem + "\n");
        lock (_gate)
        {
            _writtenBundles.Add(path);
        }

        return path;
    }

    /// <summary>
    /// A <see cref="RemoteCertificateValidationCallback"/> that accepts a server certificate only when its name
    /// matches and its chain ends at this authority's root; the system's roots are not consulted.
    /// </summary>
    public bool ValidateServerCertificate(
        object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors sslPolicyErrors)
    {
        // A name mismatch or a missing certificate is never excused; only the chain is judged again,
        // because the platform judged it against the wrong set of roots.
        if (certificate is null || (sslPolicyErrors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var customChain = new X509Chain();
        customChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        customChain.ChainPolicy.CustomTrustStore.Add(_root);
        customChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            // Intermediates the server sent; this authority issues none today, but a chain through one stays valid.
            foreach (var element in chain.ChainElements.Skip(1))
            {
                customChain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (!customChain.Build(leaf))
        {
            return false;
        }

        var anchor = customChain.ChainElements[^1].Certificate;
        return anchor.RawDataMemory.Span.SequenceEqual(_root.RawDataMemory.Span);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var path in _writtenBundles)
            {
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                    // A bundle still open in a child process that has not exited yet stays behind in the
                    // temporary folder; it holds only public certificates.
                }
            }

            _writtenBundles.Clear();
        }

        ServerCertificate.Dispose();
        Certificate.Dispose();
        _root.Dispose();
    }

    private static X509Certificate2 CreateRoot(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(
            "CN=AgentFunctions Local Test CA, O=AgentFunctions local doubles", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(
            new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var created = request.CreateSelfSigned(now - s_clockSkewAllowance, now + s_validity);
        return Reimport(created);
    }

    private X509Certificate2 Issue(DateTimeOffset now, string[] dnsNames, IPAddress[] addresses)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var dnsName in dnsNames)
        {
            names.AddDnsName(dnsName);
        }

        foreach (var address in addresses)
        {
            names.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(
            _root, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number, as RFC 5280 asks
        using var issued = request.Create(_root, now - s_clockSkewAllowance, now + s_validity, serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return Reimport(withKey);
    }

    // Kestrel on Linux cannot always use an ephemeral key straight from CopyWithPrivateKey or CreateSelfSigned;
    // a round trip through PKCS#12 gives a certificate whose key OpenSSL can load for the TLS handshake.
    private static X509Certificate2 Reimport(X509Certificate2 certificate)
    {
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var pfx = certificate.Export(X509ContentType.Pkcs12, password);
        return X509CertificateLoader.LoadPkcs12(pfx, password, X509KeyStorageFlags.Exportable);
    }
}
