import Crypto
import Foundation

/// HTTP Digest (RFC 7616), used by the server to check a phone's `Authorization` (S5) and by `notify` to answer a
/// phone's SIP challenge (RFC 3261 §22.4): one parser for the parameters and one computation of the response.
public enum HTTPDigest {
    /// The `name=value` parameters after `Digest ` (RFC 7235 §2.1): names lower-cased; quoted values unescaped, a
    /// comma inside quotes kept.
    public static func parameters(_ text: some StringProtocol) -> [String: String] {
        var values: [String: String] = [:]
        var rest = Substring(text)
        while !rest.isEmpty {
            rest = rest.drop(while: { $0 == " " || $0 == "," || $0 == "\t" })
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...].drop(while: { $0 == " " })
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(character); escaped = false; continue }
                    if character == "\\" { escaped = true; continue }
                    if character == "\"" { break }
                    value.append(character)
                }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            values[name] = value
        }
        return values
    }

    /// The hash an `algorithm` names, hex-encoded; nil for one autoprov does not speak.
    public static func hash(_ algorithm: String) -> ((String) -> String)? {
        switch algorithm.uppercased() {
        case "MD5": { Hex.encode(Insecure.MD5.hash(data: Data($0.utf8))) }
        case "SHA-256": { Hex.encode(SHA256.hash(data: Data($0.utf8))) }
        default: nil
        }
    }

    /// The `response` value (RFC 7616 §3.4.1): with `qop=auth` it covers the count and client nonce, without `qop`
    /// (RFC 2069) it does not. Nil for an unknown algorithm or a `qop` other than `auth`.
    public static func response(algorithm: String, username: String, realm: String, password: String, method: String,
                                uri: String, nonce: String, qop: String?, nonceCount: String?, clientNonce: String?)
        -> String? {
        guard let hash = hash(algorithm) else { return nil }
        let ha1 = hash("\(username):\(realm):\(password)")
        let ha2 = hash("\(method):\(uri)")
        guard let qop else { return hash("\(ha1):\(nonce):\(ha2)") }
        guard qop == "auth", let nonceCount, let clientNonce else { return nil }
        return hash("\(ha1):\(nonce):\(nonceCount):\(clientNonce):\(qop):\(ha2)")
    }
}

/// The parameters of an `Authorization: Digest …` header (RFC 7616 §3.4), with the request's method.
public struct DigestResponse: Sendable, Hashable {
    public var username: String
    public var realm: String
    public var nonce: String
    public var uri: String
    public var response: String
    public var algorithm: String
    public var qop: String?
    public var nonceCount: String?
    public var clientNonce: String?
    public var method: String

    /// Parses the header's parameters (after `Digest `).
    public init?(header: String, method: String) {
        let values = HTTPDigest.parameters(header)
        guard let username = values["username"], let realm = values["realm"], let nonce = values["nonce"],
              let uri = values["uri"], let response = values["response"]
        else { return nil }
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        algorithm = values["algorithm"] ?? "MD5"
        qop = values["qop"]
        nonceCount = values["nc"]
        clientNonce = values["cnonce"]
        self.method = method
    }

    /// Whether the digest's `uri` names the requested path (its query, if any, is not compared).
    public static func uri(_ uri: String, matches path: String) -> Bool {
        var target = Substring(uri)
        if let scheme = target.range(of: "://"), let slash = target[scheme.upperBound...].firstIndex(of: "/") {
            target = target[slash...]
        }
        if let query = target.firstIndex(of: "?") { target = target[..<query] }
        return target == path
    }

    /// The response this header should carry for `password` (nil when it cannot be computed).
    public func expectedResponse(password: String) -> String? {
        HTTPDigest.response(algorithm: algorithm, username: username, realm: realm, password: password, method: method,
                            uri: uri, nonce: nonce, qop: qop, nonceCount: nonceCount, clientNonce: clientNonce)
    }
}

/// One `Digest` challenge (RFC 3261 §22.4, RFC 7616 §3.3) and the answer to it.
public struct DigestChallenge: Sendable, Hashable {
    public var realm: String
    public var nonce: String
    public var algorithm: String
    public var qop: String?
    public var opaque: String?

    /// A `WWW-Authenticate` or `Proxy-Authenticate` value; nil when it is not Digest or lacks realm or nonce.
    public init?(_ header: String) {
        guard header.lowercased().hasPrefix("digest ") else { return nil }
        let values = HTTPDigest.parameters(header.dropFirst(7))
        guard let realm = values["realm"], let nonce = values["nonce"] else { return nil }
        self.realm = realm
        self.nonce = nonce
        algorithm = (values["algorithm"] ?? "MD5").uppercased()
        qop = values["qop"]?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0 == "auth" }
        opaque = values["opaque"]
    }

    /// The `Authorization` value answering this challenge (the first request on its nonce: `nc=00000001`).
    public func authorization(method: String, uri: String, username: String, password: String,
                              clientNonce: String) -> String {
        let count = qop == nil ? nil : "00000001"
        let response = HTTPDigest.response(algorithm: algorithm == "SHA-256" ? "SHA-256" : "MD5", username: username,
                                           realm: realm, password: password, method: method, uri: uri, nonce: nonce,
                                           qop: qop, nonceCount: count, clientNonce: clientNonce) ?? ""
        var value = "Digest username=\"\(username)\", realm=\"\(realm)\", nonce=\"\(nonce)\", uri=\"\(uri)\", "
            + "response=\"\(response)\", "
        if let qop, let count {
            value += "algorithm=\(algorithm), qop=\(qop), nc=\(count), cnonce=\"\(clientNonce)\""
        } else {
            value += "algorithm=\(algorithm)"
        }
        if let opaque { value += ", opaque=\"\(opaque)\"" }
        return value
    }
}
