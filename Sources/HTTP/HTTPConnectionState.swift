import FileService
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection's requests on the full pipeline, as a value: which part of a request is being read,
/// pipelined requests held until the answer before them is out (RFC 9112 §9.3.2), and whether the connection stays
/// open. Parts go in, actions come out; ``HTTPFileHandler`` asks the file service and writes.
struct HTTPConnectionState {
    /// A request: its head and what the file service is asked with.
    struct Request {
        var head: HTTPRequestHead
        var file: FileRequest
    }

    enum Phase {
        case idle
        /// A GET or HEAD (or another method) whose end has not arrived.
        case readingHead(Request)
        /// A PUT's body, up to `limit` bytes, held in `reservation` of the server's upload budget.
        case readingBody(Request, limit: Int, body: ByteBuffer, reservation: UploadReservation)
        /// A refused PUT: its body is read and dropped, then the refusal is sent.
        case discardingBody(Request, HTTPReply)
        /// An answer is on its way (or the connection is closing): what arrives meanwhile waits.
        case responding
    }

    /// What the handler does next.
    enum Action {
        case none
        /// Read a file (or the metrics page, or 405): ``HTTPRoute`` says which.
        case read(Request)
        /// A PUT's head: ask the file service whether it may upload, then tell ``uploadChecked(_:limit:)``.
        case checkUpload(Request)
        /// Store a whole upload (its reservation is given back once it is stored).
        case write(Request, body: ByteBuffer, reservation: UploadReservation)
        /// Send this reply.
        case respond(HTTPReply, Request)
    }

    private(set) var phase = Phase.idle
    /// Parts that arrived while an answer was on its way, in order.
    private var queued: [HTTPServerRequestPart] = []
    private(set) var shuttingDown = false
    let isTLS: Bool

    init(isTLS: Bool) {
        self.isTLS = isTLS
    }

    /// A part from the decoder. `fileRequest` makes a head's request (it needs the channel: peer, certificate).
    mutating func received(_ part: HTTPServerRequestPart, fileRequest: (HTTPRequestHead) -> FileRequest) -> Action {
        if case .responding = phase {
            queued.append(part)
            return .none
        }
        switch (part, phase) {
        case (.head(let head), .idle):
            let request = Request(head: head, file: fileRequest(head))
            if HTTPRoute.of(method: head.method, path: request.file.path, isTLS: isTLS) == .write {
                phase = .responding  // until the check is in
                return .checkUpload(request)
            }
            phase = .readingHead(request)
            return .none
        case (.body(var chunk), .readingBody(let request, let limit, var body, let reservation)):
            guard body.readableBytes + chunk.readableBytes <= limit else {
                var reply = HTTPReply(status: .payloadTooLarge, result: .tooLarge)
                reply.close = true
                phase = .responding
                return .respond(reply, request)
            }
            guard reservation.hold(body.readableBytes + chunk.readableBytes) else {
                phase = .responding
                return .respond(HTTPExchange.uploadBudgetFull(), request)
            }
            body.writeBuffer(&chunk)
            phase = .readingBody(request, limit: limit, body: body, reservation: reservation)
            return .none
        case (.end, .readingHead(let request)):
            phase = .responding
            return .read(request)
        case (.end, .readingBody(let request, _, let body, let reservation)):
            phase = .responding
            return .write(request, body: body, reservation: reservation)
        case (.end, .discardingBody(let request, var reply)):
            reply.close = false  // the body was read: the connection can go on
            phase = .responding
            return .respond(reply, request)
        default:
            return .none  // a discarded body's chunks, or parts after a refusal
        }
    }

    /// What the file service said of a PUT's head: a refusal (a body too large is refused at once and the
    /// connection closes; any other refusal after the body is read), or the limit to read up to, and the share of the
    /// upload budget the body is held in. A declared length is held at once: past the budget, 503 before the body.
    mutating func uploadChecked(_ refusal: HTTPReply?, limit: Int, reservation: UploadReservation,
                                request: Request) -> Action {
        guard var refusal else {
            if let declared = request.head.headers.first(name: "Content-Length").flatMap(Int.init),
               !reservation.hold(declared) {
                phase = .responding
                return .respond(HTTPExchange.uploadBudgetFull(), request)
            }
            phase = .readingBody(request, limit: limit, body: ByteBuffer(), reservation: reservation)
            return .none
        }
        // A client waiting for `100 Continue` has not sent the body: the refusal at once, and the connection closed
        // (RFC 9110 §10.1.1), rather than a wait for a body that comes only after the client's own timeout.
        if refusal.status == .payloadTooLarge || request.head.expectsContinue {
            if request.head.expectsContinue { refusal.close = true }
            phase = .responding
            return .respond(refusal, request)
        }
        phase = .discardingBody(request, refusal)
        return .none
    }

    /// A reply is being written: whether the connection stays open after it (the client asked to keep it, the reply
    /// does not end it, the server is not shutting down).
    mutating func writing(_ reply: HTTPReply, for request: Request) -> Bool {
        let keepAlive = request.head.isKeepAlive && !reply.close && !shuttingDown
        phase = keepAlive ? .idle : .responding
        return keepAlive
    }

    /// The connection is closing (a request the decoder could not parse): nothing more is read.
    mutating func closing() {
        phase = .responding
    }

    /// The next part that arrived during the last answer, once the connection is ready for it.
    mutating func nextQueued() -> HTTPServerRequestPart? {
        if case .responding = phase { return nil }
        return queued.isEmpty ? nil : queued.removeFirst()
    }

    /// Whether nothing is asked or waiting: the connection is idle.
    var isIdle: Bool {
        if case .idle = phase { return queued.isEmpty }
        return false
    }

    /// The server is shutting down: true when the connection may close now (no request in progress).
    mutating func shutdown() -> Bool {
        shuttingDown = true
        if case .idle = phase { return true }
        return false
    }
}

extension HTTPRequestHead {
    /// `Expect: 100-continue` on HTTP/1.1: the client sends the body once told to (or after a timeout of its own).
    var expectsContinue: Bool {
        version.major == 1 && version.minor >= 1
            && headers[canonicalForm: "expect"].contains { $0.lowercased() == "100-continue" }
    }
}
