/// Reading header values: lists (§7.3.1) and `;name=value` parameters, quoted or not (§25.1).
public enum SIPHeaderValue {
    /// Splits at commas that are outside quotes and angle brackets, trimming each value.
    public static func splitList(_ value: String) -> [String] {
        split(value, at: ",").map { $0.trimmingSIPWhitespace() }.filter { !$0.isEmpty }
    }

    /// Splits `main;a=1;b="x;y";c` into `main` and its parameters (names lower-cased, quotes removed, a parameter
    /// without a value maps to ""). Semicolons inside quotes or angle brackets belong to the main part.
    public static func parameters(_ value: String) -> (main: String, parameters: [String: String]) {
        let parts = split(value, at: ";")
        var parameters: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard let name = pair.first?.trimmingSIPWhitespace().lowercased(), !name.isEmpty else { continue }
            parameters[name] = pair.count > 1 ? unquoted(pair[1].trimmingSIPWhitespace()) : ""
        }
        return (parts[0].trimmingSIPWhitespace(), parameters)
    }

    /// The parts of `value` between `separator`s that stand outside quoted strings and angle brackets.
    static func split(_ value: String, at separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false, escaped = false, angle = false
        for character in value {
            if escaped {
                escaped = false
            } else if quoted, character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if !quoted, character == "<" {
                angle = true
            } else if !quoted, character == ">" {
                angle = false
            } else if !quoted, !angle, character == separator {
                parts.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }

    /// `"a \"b\""` → `a "b"`; anything not quoted is returned as it is.
    public static func unquoted(_ text: String) -> String {
        guard text.count >= 2, text.first == "\"", text.last == "\"" else { return text }
        var result = ""
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// A `From`, `To` or `Contact` value (§20.10, §20.20, §20.39): `"Name" <sip:uri>;tag=…` or a bare URI.
public struct SIPNameAddress: Sendable, Hashable {
    public var displayName: String?
    public var uri: String
    public var parameters: [String: String]

    public init(_ text: String) throws(SIPParseError) {
        let (main, parameters) = SIPHeaderValue.parameters(text)
        if let open = main.firstIndex(of: "<") {
            guard let close = main[open...].firstIndex(of: ">") else {
                throw SIPParseError(code: .badHeader, offset: 0, detail: "unclosed < in \"\(text.prefix(60))\"")
            }
            uri = String(main[main.index(after: open)..<close])
            let name = main[..<open].trimmingSIPWhitespace()
            displayName = name.isEmpty ? nil : SIPHeaderValue.unquoted(name)
        } else {
            // Without brackets, parameters after the URI belong to the header (§20.10).
            uri = main
            displayName = nil
        }
        guard uri.contains(":") else {
            throw SIPParseError(code: .badHeader, offset: 0, detail: "no URI in \"\(text.prefix(60))\"")
        }
        self.parameters = parameters
    }

    public var tag: String? { parameters["tag"] }
}

/// One `Via` value (§20.42): `SIP/2.0/UDP host:port;branch=…;rport`.
public struct SIPVia: Sendable, Hashable {
    public var transport: String
    public var host: String
    public var port: Int?
    public var parameters: [String: String]

    public init(_ text: String) throws(SIPParseError) {
        let (main, parameters) = SIPHeaderValue.parameters(text)
        let words = main.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let protocolParts = words.first?.split(separator: "/") ?? []
        guard words.count == 2, protocolParts.count == 3, protocolParts[0].uppercased() == "SIP",
              let sentBy = SIPHostPort(String(words[1]))
        else {
            throw SIPParseError(code: .badHeader, offset: 0, detail: "bad Via \"\(text.prefix(60))\"")
        }
        transport = protocolParts[2].uppercased()
        host = sentBy.host
        port = sentBy.port
        self.parameters = parameters
    }

    public var branch: String? { parameters["branch"] }
}

/// `CSeq: 3 NOTIFY` (§20.16).
public struct SIPCSeq: Sendable, Hashable {
    public var number: UInt32
    public var method: String

    public init(number: UInt32, method: String) {
        self.number = number
        self.method = method
    }

    public init(_ text: String) throws(SIPParseError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 2, let number = UInt32(words[0]) else {
            throw SIPParseError(code: .badHeader, offset: 0, detail: "bad CSeq \"\(text.prefix(40))\"")
        }
        self.number = number
        method = String(words[1])
    }

    public var description: String { "\(number) \(method)" }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
public struct SIPHostPort: Sendable, Hashable {
    public var host: String
    public var port: Int?

    public init?(_ text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                port = nil
            } else {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()), (1...65535).contains(number) else { return nil }
                port = number
            }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), !parts[0].isEmpty else { return nil }
            host = String(parts[0])
            if parts.count == 2 {
                guard let number = Int(parts[1]), (1...65535).contains(number) else { return nil }
                port = number
            } else {
                port = nil
            }
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }) else { return nil }
    }
}

/// A `sip:` or `sips:` URI (§19.1): `sip:user@host:port;params`. The user part stays percent-encoded.
public struct SIPURI: Sendable, Hashable {
    public var scheme: String
    public var user: String?
    public var host: String
    public var port: Int?
    public var parameters: [String: String]

    public init(_ text: String) throws(SIPParseError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw SIPParseError(code: .badHeader, offset: 0, detail: "not a URI \"\(text.prefix(60))\"")
        }
        scheme = text[..<colon].lowercased()
        guard scheme == "sip" || scheme == "sips" else {
            throw SIPParseError(code: .badHeader, offset: 0, detail: "not a SIP URI \"\(text.prefix(60))\"")
        }
        var rest = String(text[text.index(after: colon)...])
        if let question = rest.firstIndex(of: "?") { rest = String(rest[..<question]) }
        let (main, parameters) = SIPHeaderValue.parameters(rest)
        let hostPart: String
        if let at = main.lastIndex(of: "@") {
            user = String(main[..<at])
            hostPart = String(main[main.index(after: at)...])
        } else {
            user = nil
            hostPart = main
        }
        guard let hostPort = SIPHostPort(hostPart) else {
            throw SIPParseError(code: .badHeader, offset: 0, detail: "bad host in \"\(text.prefix(60))\"")
        }
        host = hostPort.host
        port = hostPort.port
        self.parameters = parameters
    }
}
