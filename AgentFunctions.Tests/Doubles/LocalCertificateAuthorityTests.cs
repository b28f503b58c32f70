using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AgentFunctions.DevHost.Doubles;

namespace AgentFunctions.Tests.Doubles;

public sealed class LocalCertificateAuthorityTests
{
    [Fact]
    public void ServerCertificate_Issued_CoversDoubleNamesAndChainsToRoot()
    {
        using var authority = new LocalCertificateAuthority();

        var certificate = authority.ServerCertificate;

        certificate.HasPrivateKey.Should().BeTrue();
        certificate.Issuer.Should().Be(authority.Certificate.Subject);
        certificate.MatchesHostname("agentfunctions.vault.localhost").Should().BeTrue();
        certificate.MatchesHostname("agentfunctions.openai.localhost").Should().BeTrue();
        certificate.MatchesHostname("localhost").Should().BeTrue();
        certificate.MatchesHostname("127.0.0.1").Should().BeTrue();
        certificate.MatchesHostname("agentfunctions.vault.azure.net").Should().BeFalse();
        authority.Certificate.HasPrivateKey.Should().BeFalse();
        authority.ValidateServerCertificate(this, certificate, null, SslPolicyErrors.RemoteCertificateChainErrors)
            .Should().BeTrue();
    }

    [Fact]
    public void ValidateServerCertificate_CertificateFromAnotherAuthority_Rejected()
    {
        using var trusted = new LocalCertificateAuthority();
        using var other = new LocalCertificateAuthority();

        var accepted = trusted.ValidateServerCertificate(
            this, other.ServerCertificate, null, SslPolicyErrors.RemoteCertificateChainErrors);

        accepted.Should().BeFalse();
    }

    [Theory]
    [InlineData(SslPolicyErrors.RemoteCertificateNameMismatch)]
    [InlineData(SslPolicyErrors.RemoteCertificateNotAvailable)]
    public void ValidateServerCertificate_NameOrCertificateProblem_RejectedEvenForOwnCertificate(SslPolicyErrors errors)
    {
        using var authority = new LocalCertificateAuthority();

        var accepted = authority.ValidateServerCertificate(this, authority.ServerCertificate, null, errors);

        accepted.Should().BeFalse();
    }

    [Fact]
    public void WriteTrustBundle_SystemBundlePresent_AppendsRootAfterSystemRootsAndDeletesOnDispose()
    {
        // Another authority's root stands in for the system roots, without a trailing newline to join onto.
        using var systemRoot = new LocalCertificateAuthority();
        var system = Path.GetTempFileName();
        File.WriteAllText(system, systemRoot.CertificatePem.TrimEnd());
        string bundle;
        string pem;
        using (var authority = new LocalCertificateAuthority())
        {
            bundle = authority.WriteTrustBundle(system);
            pem = authority.CertificatePem;

            var text = File.ReadAllText(bundle);
            text.Should().StartWith(File.ReadAllText(system) + "\n").And.EndWith(pem + "\n");
            var fromBundle = new X509Certificate2Collection();
            fromBundle.ImportFromPemFile(bundle);
            fromBundle.Select(c => c.Thumbprint).Should()
                .Equal(systemRoot.Certificate.Thumbprint, authority.Certificate.Thumbprint);
        }

        File.Exists(bundle).Should().BeFalse();
        File.Delete(system);
    }
}
