/// A GET, HEAD or PUT request head that the HTTP fast path can answer itself (see ``HTTPFastPath``).
public struct FastRequestHead: Equatable, Sendable {
    public enum Method: Equatable, Sendable {
        case get, head, put
    }

    public var method: Method
    /// The request target up to `?` or `#`, still percent-encoded.
    public var path: String
    public var userAgent: String?
    /// The `Host` header: which name and port the client reached the server on.
    public var host: String?
    public var ifNoneMatch: String?
    public var range: String?
    public var authorization: String?
    /// `Connection: close` was asked for.
    public var close: Bool
    /// Bytes of the head, blank line included.
    public var length: Int
    /// The body's length: 0 but for a PUT, which must declare it (`Content-Length`).
    public var contentLength = 0

    public var isHead: Bool { method == .head }
}

/// Reads request heads straight from the bytes a socket gave, for the HTTP fast path (RFC 9112 §2–5).
///
/// It is deliberately narrow: it accepts only `GET` and `HEAD` without a body, and `PUT` with a `Content-Length` of at
/// most ``maximumPutLength`` (a phone's local file or contact list), in origin form over HTTP/1.1 with CRLF line
/// ends and well-formed header fields; never `Transfer-Encoding` or `Expect`. Anything else, valid or not, is handed to the full SwiftNIO parser, which
/// answers it (or answers 400), so the fast path never has to decide a hard case.
public enum HTTPHeadScanner {
    public enum Outcome: Equatable, Sendable {
        /// The head has not fully arrived yet.
        case incomplete
        case request(FastRequestHead)
        /// Not for the fast path: let the full parser have these bytes.
        case handOff
    }

    /// Heads longer than this go to the full parser (which has its own limit and answers 431 or 400).
    public static let maximumHeadLength = 16 * 1024
    /// Larger uploads go to the full parser, which streams them against the upload limit.
    public static let maximumPutLength = 64 * 1024

    /// The request at the start of `bytes`. A head longer than `limit` (or ``maximumHeadLength``, the smaller) is
    /// handed off, for the full path to refuse or read.
    public static func scan(_ bytes: UnsafeRawBufferPointer, limit: Int = maximumHeadLength) -> Outcome {
        let longest = min(limit, maximumHeadLength)
        let count = min(bytes.count, longest)
        // The request line.
        let lineEnd: Int
        switch self.lineEnd(bytes, from: 0, count: count) {
        case .at(let end): lineEnd = end
        case .bare: return .handOff
        case .incomplete:
            return count < longest && plausiblePrefix(bytes, count: count) ? .incomplete : .handOff
        }
        let method: FastRequestHead.Method
        var cursor: Int
        if starts(bytes, with: "GET ", at: 0) {
            method = .get
            cursor = 4
        } else if starts(bytes, with: "HEAD ", at: 0) {
            method = .head
            cursor = 5
        } else if starts(bytes, with: "PUT ", at: 0) {
            method = .put
            cursor = 4
        } else {
            return .handOff
        }
        let targetStart = cursor
        guard targetStart < lineEnd, bytes[targetStart] == UInt8(ascii: "/") else { return .handOff }
        var pathEnd: Int?
        while cursor < lineEnd, bytes[cursor] != UInt8(ascii: " ") {
            let byte = bytes[cursor]
            guard byte > 0x20, byte < 0x7F else { return .handOff }
            if pathEnd == nil, byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { pathEnd = cursor }
            cursor += 1
        }
        guard cursor + 9 == lineEnd, starts(bytes, with: " HTTP/1.1", at: cursor) else { return .handOff }
        var head = FastRequestHead(
            method: method,
            path: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<(pathEnd ?? cursor)]),
                         as: UTF8.self),
            close: false, length: 0)

        // Header fields, up to the blank line.
        var contentLength: Int?
        var lineStart = lineEnd + 2
        while true {
            let end: Int
            switch self.lineEnd(bytes, from: lineStart, count: count) {
            case .at(let found): end = found
            case .bare: return .handOff
            case .incomplete: return count < longest ? .incomplete : .handOff
            }
            if end == lineStart {
                head.length = end + 2
                guard method != .put || contentLength != nil else { return .handOff }
                head.contentLength = contentLength ?? 0
                return .request(head)
            }
            guard let field = field(bytes, from: lineStart, to: end) else { return .handOff }
            switch field.name {
            case .userAgent: head.userAgent = field.value
            case .host: head.host = field.value
            case .ifNoneMatch:
                guard head.ifNoneMatch == nil else { return .handOff }
                head.ifNoneMatch = field.value
            case .range:
                guard head.range == nil else { return .handOff }
                head.range = field.value
            case .authorization:
                guard head.authorization == nil else { return .handOff }
                head.authorization = field.value
            case .connection:
                if hasCloseOption(field.value) { head.close = true }
            case .contentLength:
                // Digits only (RFC 9110 §8.6), once; a body only on a PUT, and a small one.
                guard contentLength == nil, !field.value.isEmpty, field.value.utf8.count <= 9,
                      field.value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                      let length = Int(field.value), method == .put ? length <= maximumPutLength : length == 0
                else { return .handOff }
                contentLength = length
            case .transferEncoding, .expect:
                return .handOff
            case .other:
                break
            }
            lineStart = end + 2
        }
    }

    /// Whether a `Connection` value lists `close` (RFC 9110 §7.6.1: comma-separated, any case, spaces around).
    static func hasCloseOption(_ value: String) -> Bool {
        value.utf8.split(separator: UInt8(ascii: ",")).contains { option in
            var option = option[...]
            while let first = option.first, first == 0x20 || first == 0x09 { option = option.dropFirst() }
            while let last = option.last, last == 0x20 || last == 0x09 { option = option.dropLast() }
            return option.count == 5 && zip(option, "close".utf8).allSatisfy { $0 | 0x20 == $1 }
        }
    }

    enum FieldName {
        case userAgent, host, ifNoneMatch, range, authorization, connection, contentLength, transferEncoding, expect, other
    }

    /// A header field line `name: value` (RFC 9110 §5); nil when malformed (or folded, which RFC 9112 §5.2 obsoletes).
    private static func field(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int)
        -> (name: FieldName, value: String)?
    {
        var colon = start
        while colon < end, bytes[colon] != UInt8(ascii: ":") {
            guard isTokenCharacter(bytes[colon]) else { return nil }
            colon += 1
        }
        guard colon > start, colon < end else { return nil }
        var valueStart = colon + 1
        var valueEnd = end
        while valueStart < valueEnd, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
        while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        for index in valueStart..<valueEnd {
            let byte = bytes[index]
            guard byte >= 0x20 || byte == 0x09, byte != 0x7F else { return nil }
        }
        let name = fieldName(UnsafeRawBufferPointer(rebasing: bytes[start..<colon]))
        if case .other = name { return (name, "") }
        return (name, String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self))
    }

    private static func fieldName(_ name: UnsafeRawBufferPointer) -> FieldName {
        switch name.count {
        case 4: if equalsIgnoringCase(name, "host") { return .host }
        case 5: if equalsIgnoringCase(name, "range") { return .range }
        case 6: if equalsIgnoringCase(name, "expect") { return .expect }
        case 10:
            if equalsIgnoringCase(name, "user-agent") { return .userAgent }
            if equalsIgnoringCase(name, "connection") { return .connection }
        case 13:
            if equalsIgnoringCase(name, "if-none-match") { return .ifNoneMatch }
            if equalsIgnoringCase(name, "authorization") { return .authorization }
        case 14: if equalsIgnoringCase(name, "content-length") { return .contentLength }
        case 17: if equalsIgnoringCase(name, "transfer-encoding") { return .transferEncoding }
        default: break
        }
        return .other
    }

    /// Where the line starting at `start` ends (the index of its CR), or that it has not fully arrived, or that it
    /// ends in a bare LF (which the full parser judges).
    private enum LineEnd {
        case at(Int)
        case incomplete
        case bare
    }

    private static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, count: Int) -> LineEnd {
        var index = start
        while index < count {
            if bytes[index] == 0x0A { return index > start && bytes[index - 1] == 0x0D ? .at(index - 1) : .bare }
            index += 1
        }
        return .incomplete
    }

    /// Whether the start of an unfinished request line could still become a GET, HEAD or PUT.
    private static func plausiblePrefix(_ bytes: UnsafeRawBufferPointer, count: Int) -> Bool {
        for method in ["GET ", "HEAD ", "PUT "] {
            let prefix = Array(method.utf8)
            let compared = min(prefix.count, count)
            if (0..<compared).allSatisfy({ bytes[$0] == prefix[$0] }) { return true }
        }
        return false
    }

    private static func starts(_ bytes: UnsafeRawBufferPointer, with text: StaticString, at offset: Int) -> Bool {
        let length = text.utf8CodeUnitCount
        guard offset + length <= bytes.count else { return false }
        let pointer = text.utf8Start
        for index in 0..<length where bytes[offset + index] != pointer[index] { return false }
        return true
    }

    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let pointer = lowercase.utf8Start
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if byte != pointer[index] { return false }
        }
        return true
    }

    /// `tchar` of RFC 9110 §5.6.2.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
