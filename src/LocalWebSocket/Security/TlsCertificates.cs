using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LocalWebSocket.Security;

/// <summary>
/// Certificates for <c>wss://</c> on a LAN without a certificate authority: a self-signed one made and
/// kept where the app says, files in PFX or PEM form, and the SHA-256 fingerprints clients pin.
/// </summary>
public static class TlsCertificates
{
    /// <summary>
    /// Loads the certificate at <paramref name="pfxPath"/>, or makes a self-signed one (ECDSA P-256, five
    /// years, names: <c>localhost</c>, this machine's name, loopback and this machine's IP addresses) and
    /// saves it there, readable by the owner only. The same file gives the same fingerprint on every start.
    /// </summary>
    public static X509Certificate2 LoadOrCreateSelfSigned(string pfxPath, string? commonName = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pfxPath);
        if (File.Exists(pfxPath))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(pfxPath, null);
        }

        var pfx = CreateSelfSigned(commonName ?? Environment.MachineName).Export(X509ContentType.Pkcs12);
        var directory = Path.GetDirectoryName(Path.GetFullPath(pfxPath));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // The file holds the private key: the owner alone may read it.
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(pfxPath, fileOptions))
        {
            file.Write(pfx);
        }

        return X509CertificateLoader.LoadPkcs12(pfx, null);
    }

    /// <summary>Makes a self-signed server certificate, in memory.</summary>
    public static X509Certificate2 CreateSelfSigned(string commonName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commonName);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName.Replace(",", " ", StringComparison.Ordinal)}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        if (Uri.CheckHostName(Environment.MachineName) == UriHostNameType.Dns)
        {
            names.AddDnsName(Environment.MachineName);
        }

        foreach (var address in LocalAddresses())
        {
            names.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(names.Build());

        // Self-signed: it is its own issuer, so peers that trust this exact certificate accept it as the anchor.
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(5));

        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Loads a certificate with its private key from a PFX file, or from PEM (key in the same file or in <paramref name="keyPath"/>).</summary>
    public static X509Certificate2 Load(string path, string? password = null, string? keyPath = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var text = File.ReadAllText(path);
        if (!text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, password);
        }

        var key = keyPath is null ? text : File.ReadAllText(keyPath);
        using var pem = password is null
            ? X509Certificate2.CreateFromPem(text, key)
            : X509Certificate2.CreateFromEncryptedPem(text, key, password);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The SHA-256 fingerprint of the certificate's DER bytes, as 64 lower-case hex digits.</summary>
    public static string Fingerprint(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(SHA256.HashData(certificate.GetRawCertData()));
    }

    /// <summary>A fingerprint as typed by people (any case, colons or spaces) in the form <see cref="Fingerprint"/> gives.</summary>
    /// <exception cref="FormatException">Not 64 hex digits.</exception>
    public static string NormalizeFingerprint(string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var hex = new string([.. fingerprint.Where(c => c is not (':' or ' ' or '-'))]).ToLowerInvariant();
        if (hex.StartsWith("sha256/", StringComparison.Ordinal))
        {
            hex = hex[7..];
        }

        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit)
            ? hex
            : throw new FormatException("A SHA-256 fingerprint is 64 hex digits.");
    }

    private static IEnumerable<IPAddress> LocalAddresses()
    {
        yield return IPAddress.Loopback;
        yield return IPAddress.IPv6Loopback;
        foreach (var local in Internal.LocalNetwork.Addresses())
        {
            if (local.IsLan && (local.IsIPv4 || !local.Address.IsIPv6LinkLocal))
            {
                yield return local.Address;
            }
        }
    }
}
