import ProvisioningCore
import Synchronization

/// The ways a phone reaches a file, and what each can carry: the differences the file service acts on, as a type.
public enum FileProtocol: String, Sendable, CaseIterable {
    case tftp, http, https, ftp

    /// Paths arrive percent-encoded (a URL's path): HTTP and HTTPS. TFTP and FTP send them raw.
    public var percentEncodesPaths: Bool { self == .http || self == .https }

    /// Whether a request can carry a user name and password; TFTP cannot, so a protected directory is refused
    /// there (S5).
    public var carriesCredentials: Bool { self != .tftp }

    /// Credentials are checked once, at login, not with each request (FTP): another valid account reaching into a
    /// protected directory is not a guess.
    public var checksCredentialsAtLogin: Bool { self == .ftp }
}

/// Who asks, and how, for one request on any protocol.
public struct FileRequest: Sendable {
    public var fileProtocol: FileProtocol
    /// The path as it arrived: percent-encoded for HTTP and HTTPS, raw for TFTP and FTP.
    public var path: String
    /// The client's address, for the log and for slowing down repeated failures.
    public var client: String
    public var userAgent: String?
    public var credentials: Credentials?
    /// The subject of the client's TLS certificate, when it presented one.
    public var certificateSubject: String?
    /// The URL the client reached the server on (`http://prov.example.com:8080/`), when the protocol says it (an
    /// HTTP `Host`): generated files' `{{server_url}}`.
    public var serverURL: String?
    /// Set once this request's Digest nonce count has been taken: a request may be checked more than once (a quick
    /// look, then a load), and only another request with the same count is a replay.
    let nonceCountTaken = NonceCountTaken()

    public init(_ fileProtocol: FileProtocol, path: String, client: String, userAgent: String? = nil,
                credentials: Credentials? = nil, certificateSubject: String? = nil) {
        self.fileProtocol = fileProtocol
        self.path = path
        self.client = client
        self.userAgent = userAgent
        self.credentials = credentials
        self.certificateSubject = certificateSubject
    }

    /// The protocol's name in the request log and metrics.
    public var protocolName: String { fileProtocol.rawValue }

    public var isPercentEncoded: Bool { fileProtocol.percentEncodesPaths }

    /// The path as the file service checks it (S2): percent-decoded where the protocol encodes it.
    var decodedPath: String { isPercentEncoded ? ProvisioningURL.percentDecoded(path) : path }
}

/// Whether a request's Digest nonce count has been taken (shared by the copies of one ``FileRequest``).
final class NonceCountTaken: Sendable {
    let value = Atomic<Bool>(false)
}

extension FileRequest {
    /// `scheme://HOST/` for a `Host` header that is a plain host name or address with an optional port; nil for
    /// anything else (which then falls back to the configured URL).
    public static func serverURL(scheme: String, host: String?) -> String? {
        guard let host, !host.isEmpty, host.utf8.count <= 255, host.utf8.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || [UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]")].contains(byte)
        }) else { return nil }
        return "\(scheme)://\(host)/"
    }
}
