/// Why a datagram is not a SIP message; `offset` is where in the datagram the problem is.
public struct SIPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case empty, tooLarge, badStartLine, badHeader, unterminatedHead, badContentLength, truncatedBody, missingHeader
    }

    public var code: Code
    public var offset: Int
    public var detail: String

    public var description: String { "\(code.rawValue) at byte \(offset): \(detail)" }
}

extension SIPMessage {
    /// The largest datagram read (RFC 3261 §18.1.1 keeps UDP messages well under it).
    public static let maximumDatagram = 65_507

    /// Parses one datagram (§7, §18.3). Lines may end in CRLF or a bare LF; folded header lines are joined; the
    /// headers must end in a blank line; a body longer than `Content-Length` is cut to it, and a shorter one is an
    /// error, as §18.3 asks for UDP.
    public init(parsing datagram: some Collection<UInt8>) throws(SIPParseError) {
        let bytes = Array(datagram)
        guard bytes.count <= SIPMessage.maximumDatagram else {
            throw SIPParseError(code: .tooLarge, offset: SIPMessage.maximumDatagram, detail: "\(bytes.count) bytes")
        }
        var offset = 0
        // Keep-alives and stray blank lines before a message (§7.5).
        while offset < bytes.count, bytes[offset] == 13 || bytes[offset] == 10 { offset += 1 }
        guard offset < bytes.count else { throw SIPParseError(code: .empty, offset: offset, detail: "no message") }

        var lines: [(text: String, offset: Int)] = []
        var headEnded = false
        while offset < bytes.count {
            guard let newline = bytes[offset...].firstIndex(of: 10) else {
                lines.append((String(decoding: bytes[offset...], as: UTF8.self), offset))
                offset = bytes.count
                break
            }
            var end = newline
            if end > offset, bytes[end - 1] == 13 { end -= 1 }
            let line = String(decoding: bytes[offset..<end], as: UTF8.self)
            let lineOffset = offset
            offset = newline + 1
            if line.isEmpty {
                headEnded = true
                break
            }
            if let first = line.utf8.first, first == 32 || first == 9, !lines.isEmpty {
                lines[lines.count - 1].text += " " + line.trimmingSIPWhitespace()  // folded (§7.3.1)
            } else {
                lines.append((line, lineOffset))
            }
        }
        guard let first = lines.first else { throw SIPParseError(code: .empty, offset: offset, detail: "no message") }
        startLine = try SIPMessage.parseStartLine(first.text, offset: first.offset)
        headers = []
        for (line, lineOffset) in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                throw SIPParseError(code: .badHeader, offset: lineOffset, detail: "no colon in \"\(line.prefix(40))\"")
            }
            let name = line[..<colon].trimmingSIPWhitespace()
            guard !name.isEmpty, name.utf8.allSatisfy({ SIPMessage.isTokenByte($0) }) else {
                throw SIPParseError(code: .badHeader, offset: lineOffset, detail: "bad name \"\(name.prefix(40))\"")
            }
            headers.append((SIPHeaderName.canonical(name), line[line.index(after: colon)...].trimmingSIPWhitespace()))
        }
        guard headEnded else {
            throw SIPParseError(code: .unterminatedHead, offset: bytes.count, detail: "no blank line after the headers")
        }
        let rest = Array(bytes[offset...])
        body = []
        if let declared = self["Content-Length"] {
            guard let length = Int(declared), length >= 0 else {
                throw SIPParseError(code: .badContentLength, offset: offset, detail: "\"\(declared.prefix(20))\"")
            }
            guard length <= rest.count else {
                throw SIPParseError(code: .truncatedBody, offset: offset,
                                    detail: "Content-Length \(length), \(rest.count) bytes present")
            }
            body = Array(rest.prefix(length))
        } else {
            body = rest
        }
        for required in ["Via", "From", "To", "Call-ID", "CSeq"] where self[required] == nil {
            throw SIPParseError(code: .missingHeader, offset: 0, detail: required)
        }
    }

    static func parseStartLine(_ line: String, offset: Int) throws(SIPParseError) -> StartLine {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        if parts.count >= 2, parts[0].uppercased() == "SIP/2.0" {
            guard let status = Int(parts[1]), (100...699).contains(status) else {
                throw SIPParseError(code: .badStartLine, offset: offset, detail: "bad status \"\(parts[1].prefix(10))\"")
            }
            return .response(status: status, reason: parts.count > 2 ? String(parts[2]) : "")
        }
        guard parts.count == 3, parts[2].uppercased() == "SIP/2.0",
              parts[0].utf8.allSatisfy({ SIPMessage.isTokenByte($0) }), parts[1].contains(":")
        else {
            throw SIPParseError(code: .badStartLine, offset: offset, detail: "\"\(line.prefix(60))\"")
        }
        return .request(method: String(parts[0]), uri: String(parts[1]))
    }

    /// RFC 3261 §25.1 `token` characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("-.!%*_+`'~".utf8).contains(byte)
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingSIPWhitespace() -> String {
        let text = String(self)
        guard let start = text.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let end = text.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(text[start...end])
    }
}
