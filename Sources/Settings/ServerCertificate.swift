import Crypto
import Foundation
import ProvisioningCore
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// The HTTPS certificate: the configured PEM pair, or a self-signed pair made once and kept in the data folder.
public enum ServerCertificate {
    /// The TLS 1.2 suites offered unless `[https] ciphers` says otherwise: forward secrecy (ECDHE) and authenticated
    /// encryption only. No RSA key exchange, CBC, SHA-1 MACs, 3DES or RC4; every Yealink firmware with TLS 1.2 offers
    /// ECDHE with AES-GCM.
    public static let strongCiphers = "ECDHE+AESGCM:ECDHE+CHACHA20"

    /// How long a connection autoprov closed waits for the peer's close_notify (see ``tlsConfiguration(_:dataDirectory:)``):
    /// longer than a LAN's round trip, far shorter than the library's 5 s.
    public static let closeNotifyWait = TimeAmount.milliseconds(250)

    /// Builds the TLS configuration (TLS 1.2 and 1.3 only, `strongCiphers` unless configured; client certificates
    /// required when `client_ca` is set).
    public static func tlsConfiguration(_ configuration: ServerConfiguration, dataDirectory: URL) throws -> TLSConfiguration {
        var certificatePath = configuration.certificate
        var keyPath = configuration.privateKey
        if certificatePath.isEmpty && keyPath.isEmpty {
            (certificatePath, keyPath) = try selfSigned(in: dataDirectory.appendingPathComponent("tls"))
        } else if certificatePath.isEmpty || keyPath.isEmpty {
            throw ConfigurationError("[https] needs both certificate and private_key, or neither", code: .missingKey)
        }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ConfigurationError("\(certificatePath), \(keyPath): cannot load the certificate or key (\(error))",
                                         code: .unreadableFile)
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                           privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        // After autoprov closes a connection (its close_notify sent behind the last answer), how long it waits for
        // the peer's close_notify. The TLS handler, its buffers and its SSL object live until then, even when the
        // peer has gone: at the library's 5 s, a storm of one-request connections (phones after a power cut) held
        // thousands at once, 430 MB at 1,250 handshakes a second. The answer is already in the kernel's hands
        // by then, and the peer's close_notify is not needed to end it (RFC 8446 §6.1).
        tls.shutdownTimeout = ServerCertificate.closeNotifyWait
        tls.cipherSuites = configuration.tlsCiphers.isEmpty ? strongCiphers : configuration.tlsCiphers.joined(separator: ":")
        if !configuration.clientCA.isEmpty {
            guard FileManager.default.isReadableFile(atPath: configuration.clientCA) else {
                throw ConfigurationError("cannot read the client CA bundle", code: .unreadableFile, file: configuration.clientCA)
            }
            tls.trustRoots = .file(configuration.clientCA)
            tls.certificateVerification = .noHostnameVerification
        }
        return tls
    }

    /// Makes `cert.pem`/`key.pem` in `directory` unless they are already there.
    static func selfSigned(in directory: URL) throws -> (String, String) {
        let certificateURL = directory.appendingPathComponent("cert.pem")
        let keyURL = directory.appendingPathComponent("key.pem")
        if FileManager.default.fileExists(atPath: certificateURL.path), FileManager.default.fileExists(atPath: keyURL.path) {
            return (certificateURL.path, keyURL.path)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pair = try selfSignedPEM()
        try pair.certificate.write(to: certificateURL, atomically: true, encoding: .utf8)
        try pair.key.write(to: keyURL, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyURL.path)
        return (certificateURL.path, keyURL.path)
    }

    /// A new self-signed ECDSA P-256 certificate for `localhost` and 127.0.0.1, and its key, as PEM text.
    public static func selfSignedPEM() throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName("autoprov")
            OrganizationName("autoprov self-signed")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }
}
