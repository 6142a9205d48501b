import FileService
import NIOCore
import NIOHTTP1

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
        if case .file(let file) = answer, keepAlive, head.ifNoneMatch == nil, head.range == nil {
            // The common case: the head and body prepared once per file.
            emit(HTTPFileHead.serialized(file))
            if !head.isHead { emit(file.contents) }
            service.record(request, result: .ok, bytes: head.isHead ? 0 : file.contents.readableBytes,
                           seconds: (ContinuousClock.now - started).seconds)
            return .answered(staysOpen: true)
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
