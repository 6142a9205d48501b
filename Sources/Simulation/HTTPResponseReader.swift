import Foundation

/// One HTTP/1.1 response read from the bytes of a connection, without the I/O: the status, the body (by
/// `Content-Length`, chunked, or up to the connection's end) and `WWW-Authenticate`. For the simulator's own
/// connections, which ask with `Connection: close`.
struct HTTPResponseReader {
    enum State: Equatable {
        case incomplete
        case complete(HTTPExchange.Answer)
        case malformed(String)
    }

    private var buffer: [UInt8] = []
    private var head: (status: Int, challenge: String?, length: Int?, chunked: Bool, bodyStart: Int)?
    /// Responses without a body whatever their headers say: to HEAD (not asked here), 1xx, 204, 304.
    private var bodiless: Bool { head.map { $0.status == 204 || $0.status == 304 || $0.status < 200 } ?? false }
    /// The head may not grow beyond this.
    static let headLimit = 64 * 1024

    /// Bytes received.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> State {
        buffer.append(contentsOf: bytes)
        return state(atEnd: false)
    }

    /// The connection ended: a body read up to the end is complete now.
    mutating func finish() -> State {
        state(atEnd: true)
    }

    private mutating func state(atEnd: Bool) -> State {
        if head == nil {
            guard let end = HTTPResponseReader.headEnd(buffer) else {
                if buffer.count > HTTPResponseReader.headLimit { return .malformed("response head too long") }
                return atEnd ? .malformed(buffer.isEmpty ? "connection closed without a response" : "truncated head")
                    : .incomplete
            }
            guard let parsed = HTTPResponseReader.parseHead(buffer[..<end]) else { return .malformed("bad status line") }
            head = (parsed.status, parsed.challenge, parsed.length, parsed.chunked, end + 4)
        }
        guard let head else { return .incomplete }
        let body = buffer[head.bodyStart...]
        if bodiless { return .complete(.init(status: head.status, body: [], challenge: head.challenge)) }
        if head.chunked {
            switch HTTPResponseReader.dechunk(body) {
            case .some(.some(let bytes)): return .complete(.init(status: head.status, body: bytes, challenge: head.challenge))
            case .some(.none): return .malformed("bad chunk")
            case .none: return atEnd ? .malformed("truncated body") : .incomplete
            }
        }
        if let length = head.length {
            if body.count >= length {
                return .complete(.init(status: head.status, body: Array(body.prefix(length)), challenge: head.challenge))
            }
            return atEnd ? .malformed("truncated body") : .incomplete
        }
        return atEnd ? .complete(.init(status: head.status, body: Array(body), challenge: head.challenge)) : .incomplete
    }

    /// Where `\r\n\r\n` starts.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    static func parseHead(_ bytes: ArraySlice<UInt8>) -> (status: Int, challenge: String?, length: Int?, chunked: Bool)? {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let first = lines.first, first.hasPrefix("HTTP/1."), first.count >= 12,
              let status = Int(first.dropFirst(9).prefix(3)) else { return nil }
        var (challenge, length, chunked): (String?, Int?, Bool) = (nil, nil, false)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
            switch name {
            case "content-length": length = Int(value)
            case "transfer-encoding": chunked = value.lowercased().contains("chunked")
            case "www-authenticate": challenge = challenge ?? value
            default: break
            }
        }
        return (status, challenge, length, chunked)
    }

    /// A chunked body decoded; nil while incomplete, `.some(nil)` when malformed.
    static func dechunk(_ bytes: ArraySlice<UInt8>) -> [UInt8]?? {
        var body: [UInt8] = []
        var index = bytes.startIndex
        while true {
            guard let lineEnd = bytes[index...].firstIndex(of: 10) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
                .split(separator: ";").first?.trimmingCharacters(in: [" ", "\r"]) ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { return .some(nil) }
            let start = lineEnd + 1
            if size == 0 { return .some(body) }  // trailers, if any, are not waited for
            guard bytes.endIndex - start >= size + 2 else { return nil }
            body += bytes[start..<(start + size)]
            index = start + size + 2
        }
    }
}
