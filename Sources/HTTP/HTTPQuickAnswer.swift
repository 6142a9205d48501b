import FileService
import NIOCore
import NIOHTTP1
import WireProtocols

/// The answer to a request head that ``HTTPHeadScanner`` accepted, shared by the epoll fast path (plain HTTP) and
/// ``HTTPQuickHandler`` (HTTPS, and plain HTTP where there is no epoll): the same ``FileService`` calls and
/// ``HTTPExchange`` replies as the full path, without building an `HTTPRequestHead` for the common case.
enum HTTPQuickAnswer {
    enum Outcome {
        /// The full path must answer this request (and the rest of the connection).
        case handOff
        /// Answered; whether the connection stays open.
        case answered(staysOpen: Bool)
    }

    /// What ends a head whose connection closes after it.
    static let closing = ByteBuffer(string: "Connection: close\r\n\r\n")
    /// `404 Not Found` to a GET, as ``HTTPExchange/head(of:method:version:keepAlive:)`` writes it.
    static let notFound = ByteBuffer(string: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    static let notFoundClosing = ByteBuffer(string: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    /// Answers a request by passing the response's buffers, in order, to `emit`.
    static func answer(_ head: FastRequestHead, fileProtocol: FileProtocol, client: String, certificateSubject: String?,
                       service: FileService, keepAlive: Bool, emit: (ByteBuffer) -> Void) -> Outcome {
        // Credentials (which may slow an answer down), the metrics page and uploads take the full path.
        guard head.method != .put, HTTPRoute.isQuick(method: head.isHead ? .HEAD : .GET, path: head.path,
                                isTLS: fileProtocol == .https, hasAuthorization: head.authorization != nil)
        else { return .handOff }
        let started = ContinuousClock.now
        var request = FileRequest(fileProtocol, path: head.path, client: client,
                                  userAgent: head.userAgent, certificateSubject: certificateSubject)
        request.serverURL = FileRequest.serverURL(scheme: fileProtocol.rawValue, host: head.host)
        guard case .answer(let answer) = service.decide(request) else { return .handOff }
        // The common cases, a file and a file that is not there, from bytes made once; a phone asks each on a
        // connection of its own (`Connection: close`).
        switch answer {
        case .file(let file) where head.ifNoneMatch == nil && head.range == nil:
            let prepared = HTTPFileHead.serialized(file)
            if keepAlive {
                emit(prepared)
            } else {
                // The prepared head without its final CRLF, then `Connection: close` and the CRLF.
                emit(prepared.getSlice(at: prepared.readerIndex, length: prepared.readableBytes - 2)!)
                emit(closing)
            }
            if !head.isHead { emit(file.contents) }
            service.record(request, result: .ok, bytes: head.isHead ? 0 : file.contents.readableBytes,
                           seconds: (ContinuousClock.now - started).seconds)
            return .answered(staysOpen: keepAlive)
        case .notFound where !head.isHead:
            emit(keepAlive ? notFound : notFoundClosing)
            service.record(request, result: .notFound, bytes: 0, seconds: (ContinuousClock.now - started).seconds)
            return .answered(staysOpen: keepAlive)
        default:
            break
        }
        var headers = HTTPHeaders()
        if let value = head.ifNoneMatch { headers.add(name: "If-None-Match", value: value) }
        if let value = head.range { headers.add(name: "Range", value: value) }
        let requestHead = HTTPRequestHead(version: .http1_1, method: head.isHead ? .HEAD : .GET, uri: head.path,
                                          headers: headers)
        let reply = HTTPExchange.read(answer, head: requestHead, service: service)
        guard reply.delay == .zero else { return .handOff }
        let staysOpen = keepAlive && !reply.close
        emit(HTTPExchange.head(of: reply, method: requestHead.method, version: .http1_1, keepAlive: staysOpen))
        if let body = reply.body { emit(body) }
        service.record(request, result: reply.result, bytes: reply.bytes, seconds: (ContinuousClock.now - started).seconds)
        return .answered(staysOpen: staysOpen)
    }
}
