/// A SIP request or response as carried in one UDP datagram (RFC 3261 §7).
///
/// Headers keep their order and their text; lookups are by name, case-insensitive, with compact forms
/// (§7.3.3) expanded when parsed, so `v:` is found as `Via`.
public struct SIPMessage: Sendable, Hashable {
    public enum StartLine: Sendable, Hashable {
        case request(method: String, uri: String)
        case response(status: Int, reason: String)
    }

    public var startLine: StartLine
    /// Name and value of each header line, in order; a header with several comma-separated values is one entry.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(startLine: StartLine, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.startLine = startLine
        self.headers = headers
        self.body = body
    }

    public static func request(_ method: String, uri: String, headers: [(name: String, value: String)] = [],
                               body: [UInt8] = []) -> SIPMessage {
        SIPMessage(startLine: .request(method: method, uri: uri), headers: headers, body: body)
    }

    public var method: String? {
        if case .request(let method, _) = startLine { method } else { nil }
    }

    public var requestURI: String? {
        if case .request(_, let uri) = startLine { uri } else { nil }
    }

    public var status: Int? {
        if case .response(let status, _) = startLine { status } else { nil }
    }

    /// The first value of a header (the whole line's value), or nil.
    public subscript(_ name: String) -> String? {
        let wanted = SIPHeaderName.canonical(name)
        return headers.first { $0.name == wanted }?.value
    }

    /// Every value of a header: all its lines, each split at commas outside quotes and angle brackets (§7.3.1).
    public func values(_ name: String) -> [String] {
        let wanted = SIPHeaderName.canonical(name)
        return headers.filter { $0.name == wanted }.flatMap { SIPHeaderValue.splitList($0.value) }
    }

    /// Replaces every line of a header with one value (appends it when absent).
    public mutating func set(_ name: String, _ value: String) {
        let canonical = SIPHeaderName.canonical(name)
        if let first = headers.firstIndex(where: { $0.name == canonical }) {
            headers[first].value = value
            headers = headers.enumerated().filter { $0.offset == first || $0.element.name != canonical }.map(\.element)
        } else {
            headers.append((canonical, value))
        }
    }

    public mutating func add(_ name: String, _ value: String) {
        headers.append((SIPHeaderName.canonical(name), value))
    }

    /// The message as sent: CRLF line ends, and a `Content-Length` that matches the body whatever the headers say.
    public func serialized() -> [UInt8] {
        var text: String
        switch startLine {
        case .request(let method, let uri): text = "\(method) \(uri) SIP/2.0\r\n"
        case .response(let status, let reason): text = "SIP/2.0 \(status) \(reason)\r\n"
        }
        for (name, value) in headers where name != "Content-Length" {
            text += "\(name): \(value)\r\n"
        }
        text += "Content-Length: \(body.count)\r\n\r\n"
        return Array(text.utf8) + body
    }

    public static func == (lhs: SIPMessage, rhs: SIPMessage) -> Bool {
        lhs.startLine == rhs.startLine && lhs.body == rhs.body
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(startLine)
        hasher.combine(body)
        for (name, value) in headers {
            hasher.combine(name)
            hasher.combine(value)
        }
    }
}

extension SIPMessage {
    /// A response to this request (§8.2.6): Via, From, To, Call-ID and CSeq copied, a To tag added when given and
    /// the To has none.
    public func response(_ status: Int, _ reason: String, toTag: String? = nil,
                         headers extra: [(name: String, value: String)] = [], body: [UInt8] = []) -> SIPMessage {
        var copied: [(name: String, value: String)] = headers.filter {
            ["Via", "From", "To", "Call-ID", "CSeq"].contains($0.name)
        }
        if let toTag, let index = copied.firstIndex(where: { $0.name == "To" }),
           (try? SIPNameAddress(copied[index].value))?.parameters["tag"] == nil {
            copied[index].value += ";tag=\(toTag)"
        }
        return SIPMessage(startLine: .response(status: status, reason: reason), headers: copied + extra, body: body)
    }
}

/// Header names as RFC 3261 spells them, and the compact forms of §7.3.3 (and RFC 3265's `o`/`u`).
public enum SIPHeaderName {
    static let compact: [String: String] = [
        "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length", "c": "Content-Type",
        "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "o": "Event", "u": "Allow-Events",
    ]
    static let spelled: [String: String] = Dictionary(uniqueKeysWithValues: [
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Type", "Content-Length",
        "Event", "Expires", "User-Agent", "Accept", "Subscription-State", "Allow", "Allow-Events", "Supported",
        "WWW-Authenticate", "Proxy-Authenticate", "Authorization", "Proxy-Authorization", "Record-Route", "Route",
        "Server", "Subject", "Content-Encoding",
    ].map { ($0.lowercased(), $0) })

    /// The spelling autoprov uses for a header name, whatever the case or form it arrived in.
    public static func canonical(_ name: String) -> String {
        let lower = name.lowercased()
        if let full = compact[lower] { return full }
        return spelled[lower] ?? name
    }
}
