/// A URL the phone fetches: the provisioning server URL, a boot file, an include (R2.3, R3.6).
///
/// Kept as RFC 3986 components, percent-encoded as on the wire. Relative references resolve by
/// RFC 3986 §5.2 (with `../` removed by §5.2.4), so `include:config <../sip.cfg>` means what the phone means.
public struct ProvisioningURL: Sendable, Hashable {
    /// The protocols a phone provisions over.
    public static let schemes: Set<String> = ["tftp", "http", "https", "ftp"]

    /// Lower-case scheme (`tftp`).
    public let scheme: String
    /// The authority (`user:pass@host:port`), as written.
    public let authority: String
    /// The path, percent-encoded, always starting with `/`.
    public let path: String
    /// The query without `?`, if any.
    public let query: String?

    /// Parses an absolute URL with one of ``schemes``; spaces and other characters not allowed in a URL
    /// are percent-encoded first, as the phone does on the wire.
    public init(_ text: String) throws(ProvisioningURLError) {
        let parts = ReferenceParts(ProvisioningURL.encodeForWire(text))
        guard let scheme = parts.scheme?.lowercased(), ProvisioningURL.schemes.contains(scheme),
              let authority = parts.authority, !authority.isEmpty
        else { throw ProvisioningURLError(text: text) }
        self.init(scheme: scheme, authority: authority,
                  path: parts.path.isEmpty ? "/" : ProvisioningURL.removeDotSegments(parts.path), query: parts.query)
    }

    init(scheme: String, authority: String, path: String, query: String?) {
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
    }

    /// Whether the text is an absolute URL a phone would fetch as is (R2.3).
    public static func isAbsolute(_ text: String) -> Bool {
        guard let scheme = ReferenceParts(text).scheme else { return false }
        return schemes.contains(scheme.lowercased())
    }

    /// The host part of the authority, lower case, without user information and port.
    public var host: String {
        var host = authority[...]
        if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            return String(host[...close]).lowercased()
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        return host.lowercased()
    }

    /// The same URL seen as a directory: with a trailing `/` on the path and no query.
    public var asDirectory: ProvisioningURL {
        ProvisioningURL(scheme: scheme, authority: authority, path: path.hasSuffix("/") ? path : path + "/", query: nil)
    }

    /// The last path segment, percent-decoded (`00156543ec97.boot`).
    public var lastSegment: String {
        ProvisioningURL.percentDecoded(String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""))
    }

    /// Resolves a reference (an include's path) against this URL (RFC 3986 §5.2.2).
    ///
    /// A reference with a scheme other than ``schemes`` (`c:x.cfg`) is taken as a relative path.
    public func resolving(_ reference: String) throws(ProvisioningURLError) -> ProvisioningURL {
        let encoded = ProvisioningURL.encodeForWire(reference)
        if ProvisioningURL.isAbsolute(encoded) { return try ProvisioningURL(reference) }
        let parts = ReferenceParts(encoded.contains(":") && !encoded.hasPrefix("/") ? "./" + encoded : encoded)
        if let authority = parts.authority {
            return ProvisioningURL(scheme: scheme, authority: authority,
                                   path: ProvisioningURL.removeDotSegments(parts.path.isEmpty ? "/" : parts.path),
                                   query: parts.query)
        }
        if parts.path.isEmpty {
            return ProvisioningURL(scheme: scheme, authority: authority, path: path, query: parts.query ?? query)
        }
        let merged: String
        if parts.path.hasPrefix("/") {
            merged = parts.path
        } else {
            // RFC 3986 §5.2.3: the base path up to and including its last "/".
            let directory = path[...(path.lastIndex(of: "/") ?? path.startIndex)]
            merged = directory + parts.path
        }
        return ProvisioningURL(scheme: scheme, authority: authority,
                               path: ProvisioningURL.removeDotSegments(merged), query: parts.query)
    }

    /// The path relative to `root` (a directory URL on the same server), percent-decoded, or nil when this URL
    /// is on another server or outside `root`.
    public func path(relativeTo root: ProvisioningURL) -> String? {
        guard scheme == root.scheme,
              authority == root.authority || (host == root.host && authorityPort == root.authorityPort)
        else { return nil }
        let rootPath = root.path.utf8.last == UInt8(ascii: "/") ? root.path : root.path + "/"
        guard path.utf8.starts(with: rootPath.utf8) else { return nil }
        return ProvisioningURL.percentDecoded(String(Substring(path.utf8.dropFirst(rootPath.utf8.count))))
    }

    private var authorityPort: String? {
        var rest = authority[...]
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let close = rest.lastIndex(of: "]") { rest = rest[rest.index(after: close)...] }
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        return String(rest[rest.index(after: colon)...])
    }

    /// RFC 3986 §5.2.4.
    static func removeDotSegments(_ path: String) -> String {
        var input = Substring(path)
        var output: [Substring] = []
        var trailingSlash = false
        let absolute = input.hasPrefix("/")
        if absolute { input = input.dropFirst() }
        let segments = input.split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                trailingSlash = isLast
            case "..":
                if !output.isEmpty { output.removeLast() }
                trailingSlash = isLast
            default:
                output.append(segment)
                trailingSlash = false
            }
        }
        var result = (absolute ? "/" : "") + output.joined(separator: "/")
        if trailingSlash, !result.hasSuffix("/") { result += "/" }
        return result
    }

    /// Percent-encodes what may not stand in a URL (spaces, controls, non-ASCII); leaves `%XX` as it is.
    static func encodeForWire(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80, byte > 0x20, byte != 0x7F, !"\"<>\\^`{|}".unicodeScalars.contains(scalar) {
                result.unicodeScalars.append(scalar)
            } else {
                result += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return result
    }

    /// Decodes `%XX` sequences; an invalid sequence stays as written.
    public static func percentDecoded(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension ProvisioningURL: CustomStringConvertible {
    public var description: String {
        scheme + "://" + authority + path + (query.map { "?" + $0 } ?? "")
    }
}

/// The five components of RFC 3986 Appendix B's regular expression.
struct ReferenceParts {
    var scheme: String?
    var authority: String?
    var path: String
    var query: String?

    init(_ text: String) {
        var rest = Substring(text)
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if let colon = rest.firstIndex(of: ":"),
           let first = rest.first, first.isLetter,
           rest[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }),
           !rest[..<colon].contains(where: { "/?".contains($0) }) {
            scheme = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(where: { "/?".contains($0) }) ?? rest.endIndex
            authority = String(rest[..<end])
            rest = rest[end...]
        }
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        path = String(rest)
    }
}

/// A text that is not a provisioning URL.
public struct ProvisioningURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text as given.
    public let text: String

    public var description: String {
        "'\(text)' is not a provisioning URL (expected tftp://, http://, https:// or ftp:// with a host)"
    }
}
