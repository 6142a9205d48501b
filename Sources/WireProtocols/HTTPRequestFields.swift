import Foundation

/// The parts of a request head that every HTTP path (the epoll fast path, the quick handler behind TLS and the full
/// SwiftNIO pipeline) reads from text the client wrote: kept here, apart from the I/O, so that they are fuzzed on
/// their own.
public enum HTTPRequestTarget {
    /// The path a request target names, still percent-encoded: an absolute-form target (`http://host/a.cfg`) is
    /// reduced to its path, and the query and fragment are dropped (RFC 9112 §3.2). ``HTTPHeadScanner`` applies
    /// the same rule to the bytes of an origin-form target.
    public static func path(of target: Substring) -> Substring {
        var path = target
        if let scheme = path.range(of: "://"), let slash = path[scheme.upperBound...].firstIndex(of: "/") {
            path = path[slash...]
        }
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
        return path
    }
}

/// What an `Authorization` header carries, as sent: a user name and password (Basic, RFC 7617), or the parameters
/// of a Digest response (RFC 7616), which ``DigestResponse`` reads. Any other scheme, or a Basic value that is not
/// base64 of UTF-8 text with a colon, is nil: no credentials.
public enum HTTPAuthorization: Equatable, Sendable {
    case basic(username: String, password: String)
    /// The text after `Digest `.
    case digest(String)

    public init?(header: String) {
        let lowered = header.lowercased()
        if lowered.hasPrefix("basic ") {
            guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                  let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { return nil }
            self = .basic(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        } else if lowered.hasPrefix("digest ") {
            self = .digest(String(header.dropFirst(7)))
        } else {
            return nil
        }
    }
}
