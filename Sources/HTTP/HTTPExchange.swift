import FileService
import Foundation
import NIOCore
import NIOHTTP1
import ProvisioningCore
import WireProtocols

/// What an HTTP response is, before it is written: the decisions of S1–S5 in HTTP terms.
struct HTTPReply {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders = HTTPHeaders()
    var body: ByteBuffer?
    /// For the request log and metrics.
    var result: RequestResult
    var bytes = 0
    /// Wait this long before answering (slowing down repeated failures, S5).
    var delay: Duration = .zero
    /// Close the connection after this reply (a refused upload whose body was not read).
    var close = false
    /// The head already serialized, when it is a cached file's plain `200 OK` for HTTP/1.1.
    var serializedHead: ByteBuffer?

    init(status: HTTPResponseStatus, result: RequestResult) {
        self.status = status
        self.result = result
    }
}

/// Turns a request and the file service's answer into a reply (GET, HEAD, PUT, `/metrics`).
enum HTTPExchange {
    static func read(_ answer: ReadAnswer, head: HTTPRequestHead, service: FileService) -> HTTPReply {
        switch answer {
        case .notFound:
            return HTTPReply(status: .notFound, result: .notFound)
        case .forbidden:
            return HTTPReply(status: .forbidden, result: .forbidden)
        case .unauthorized(let realm, let delay, let stale):
            return challenge(realm: realm, delay: delay, stale: stale, service: service)
        case .file(let file):
            let etag = file.etag
            var reply = HTTPReply(status: .ok, result: .ok)
            reply.headers = HTTPFileHead.headers(file.facts)
            reply.serializedHead = HTTPFileHead.serialized(file)
            if let match = head.headers.first(name: "If-None-Match"),
               match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0 == "*" }) {
                reply.status = .notModified
                reply.result = .notModified
                reply.serializedHead = nil
                reply.headers.remove(name: "Content-Length")
                return reply
            }
            var body = file.contents
            if let range = head.headers.first(name: "Range") {
                reply.serializedHead = nil
                guard let (start, end) = byteRange(range, size: body.readableBytes) else {
                    reply.status = .rangeNotSatisfiable
                    reply.result = .badRange
                    reply.headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(body.readableBytes)")
                    reply.headers.replaceOrAdd(name: "Content-Length", value: "0")
                    return reply
                }
                reply.headers.replaceOrAdd(name: "Content-Range", value: "bytes \(start)-\(end)/\(body.readableBytes)")
                body = body.getSlice(at: body.readerIndex + start, length: end - start + 1)!
                reply.status = .partialContent
            }
            if reply.status == .partialContent {
                reply.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
            }
            if head.method != .HEAD {
                reply.body = body
                reply.bytes = body.readableBytes
            }
            return reply
        }
    }

    /// The answer to a PUT before its body is read: nil to go on reading (up to the returned limit).
    /// 503 with Retry-After for an upload the server has no memory for now (`[limits] upload_mb`): the phone tries
    /// again shortly, as after any 503. The connection closes: what the client still sends is not read.
    static func uploadBudgetFull() -> HTTPReply {
        var reply = HTTPReply(status: .serviceUnavailable, result: .refused)
        reply.headers = ["Retry-After": "5"]
        reply.close = true
        return reply
    }

    static func uploadPrecheck(_ request: FileRequest, head: HTTPRequestHead, service: FileService) -> (HTTPReply?, Int) {
        switch service.uploadPermission(request) {
        case .failure(.forbidden):
            var reply = HTTPReply(status: .forbidden, result: .forbidden)
            reply.close = true
            return (reply, 0)
        case .failure(.unauthorized(let realm, let delay, let stale)):
            var reply = challenge(realm: realm, delay: delay, stale: stale, service: service)
            reply.close = true
            return (reply, 0)
        case .success(let permission):
            if let declared = head.headers.first(name: "Content-Length").flatMap(Int.init), declared > permission.limit {
                var reply = HTTPReply(status: .payloadTooLarge, result: .tooLarge)
                reply.close = true
                return (reply, permission.limit)
            }
            return (nil, permission.limit)
        }
    }

    static func write(_ answer: WriteAnswer, bytes: Int, service: FileService) -> HTTPReply {
        switch answer {
        case .created:
            var reply = HTTPReply(status: .created, result: .stored)
            reply.bytes = bytes
            return reply
        case .replaced:
            var reply = HTTPReply(status: .noContent, result: .stored)
            reply.bytes = bytes
            return reply
        case .forbidden: return HTTPReply(status: .forbidden, result: .forbidden)
        case .tooLarge: return HTTPReply(status: .payloadTooLarge, result: .tooLarge)
        case .unauthorized(let realm, let delay, let stale):
            return challenge(realm: realm, delay: delay, stale: stale, service: service)
        case .failed: return HTTPReply(status: .internalServerError, result: .failed)
        case .unavailable:
            // The shared store is down: nothing was stored, and the phone may try again shortly.
            var reply = HTTPReply(status: .serviceUnavailable, result: .failed)
            reply.headers = ["Retry-After": "5"]
            return reply
        }
    }

    static func metrics(_ service: FileService) -> HTTPReply {
        var reply = HTTPReply(status: .ok, result: .metrics)
        let body = ByteBuffer(string: service.metrics.render())
        reply.headers = ["Content-Type": "text/plain; version=0.0.4", "Content-Length": String(body.readableBytes)]
        reply.body = body
        return reply
    }

    static func challenge(realm: String, delay: Duration, stale: Bool, service: FileService) -> HTTPReply {
        var reply = HTTPReply(status: .unauthorized, result: .unauthorized)
        for value in service.challenges(realm: realm, stale: stale) {
            reply.headers.add(name: "WWW-Authenticate", value: value)
        }
        reply.delay = delay
        return reply
    }

    static func credentials(_ head: HTTPRequestHead) -> Credentials? {
        guard let header = head.headers.first(name: "Authorization") else { return nil }
        switch HTTPAuthorization(header: header) {
        case .basic(let username, let password): return .password(username: username, password: password)
        case .digest(let parameters): return DigestResponse(header: parameters, method: head.method.rawValue).map { .digest($0) }
        case nil: return nil
        }
    }

    /// The head of a reply in wire form, with `Content-Length` and `Connection` as the request and reply need.
    static func head(of reply: HTTPReply, method: HTTPMethod, version: HTTPVersion, keepAlive: Bool) -> ByteBuffer {
        if let prepared = reply.serializedHead, keepAlive, version == .http1_1 { return prepared }
        var headers = reply.headers
        if reply.body == nil, headers.first(name: "Content-Length") == nil, reply.status != .notModified,
           method != .HEAD {
            headers.add(name: "Content-Length", value: "0")
        }
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if version.minor == 0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        return serialize(version: version.major == 1 ? version : .http1_1, status: reply.status, headers: headers)
    }

    /// A response head in wire form (RFC 9112 §4).
    static func serialize(version: HTTPVersion, status: HTTPResponseStatus, headers: HTTPHeaders) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256)
        buffer.writeString("HTTP/\(version.major).\(version.minor) \(status.code) \(status.reasonPhrase)\r\n")
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range).
    static func byteRange(_ header: String, size: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            return (max(size - suffix, 0), size - 1)
        }
        guard let start = Int(first), start < size else { return nil }
        if last.isEmpty { return (start, size - 1) }
        guard let end = Int(last), end >= start else { return nil }
        return (start, min(end, size - 1))
    }

    /// An IMF-fixdate (RFC 9110 §5.6.7), computed without a formatter.
    static func httpDate(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[((days % 7) + 7) % 7]), \(two(day)) \(months[month - 1]) \(year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
    }
}
