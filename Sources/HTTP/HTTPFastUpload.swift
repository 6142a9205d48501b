#if os(Linux)
import FastLoop
import FileService
import NIOCore
import WireProtocols

/// A phone's PUT of its local file (R5.4, S4) on the HTTP fast path: the loop reads the head and the body, the
/// file service stores it off the loop, and the answer comes back through the loop's inbox. Only what the fast path
/// can finish on its own is taken: a permitted upload of at most ``HTTPHeadScanner/maximumPutLength`` bytes without
/// credentials. A refusal (403, 401 with its slow-down, 413) goes to the SwiftNIO path, which answers it after
/// reading the body, as before.
enum HTTPFastUpload {
    /// What a loop does with a PUT head.
    enum Step {
        /// The body has not fully arrived.
        case incomplete
        /// The full path answers it.
        case handOff
        /// The body is being stored; the connection waits for ``Stored``.
        case storing
    }

    /// A stored upload, posted back to the loop that read it.
    struct Stored: Sendable {
        let descriptor: Int32
        let serial: UInt64
        let answer: WriteAnswer
        let request: FileRequest
        let bytes: Int
        let keepAlive: Bool
        let started: ContinuousClock.Instant
    }

    /// Bytes a connection may send behind an upload while it is stored; a phone sends nothing there.
    static let mostHeldWhileStoring = 2 * (HTTPHeadScanner.maximumHeadLength + HTTPHeadScanner.maximumPutLength)

    /// What a quick path does with a PUT head.
    enum Plan {
        case incomplete
        case handOff
        /// Store these bytes for this request, as permitted, held in the upload budget until stored.
        case store(FileRequest, ByteBuffer, UploadPermission, UploadReservation)
    }

    /// The decision both quick paths (the epoll loop, and the handler behind TLS) take for a PUT head, `body` being
    /// the bytes after it: permitted without credentials, within the limit, whole, and within the server's upload
    /// budget (else the full path answers 503).
    static func plan(_ head: FastRequestHead, body: UnsafeRawBufferPointer, fileProtocol: FileProtocol, client: String,
                     certificateSubject: String?, service: FileService) -> Plan {
        guard head.authorization == nil else { return .handOff }
        var request = FileRequest(fileProtocol, path: head.path, client: client, userAgent: head.userAgent,
                                  certificateSubject: certificateSubject)
        request.serverURL = FileRequest.serverURL(scheme: fileProtocol.rawValue, host: head.host)
        // Decided before the body is waited for, so that a refused body is never held here.
        guard case .success(let permission) = service.uploadPermission(request),
              head.contentLength <= permission.limit
        else { return .handOff }
        guard body.count >= head.contentLength else { return .incomplete }
        let reservation = service.uploadBudget.reservation()
        guard reservation.hold(head.contentLength) else { return .handOff }
        return .store(request, ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: body[..<head.contentLength])),
                      permission, reservation)
    }

    /// The reply to a stored upload, recorded: both quick paths send it as their connection allows.
    static func reply(to answer: WriteAnswer, request: FileRequest, bytes: Int, started: ContinuousClock.Instant,
                      service: FileService) -> HTTPReply {
        var reply = HTTPExchange.write(answer, bytes: bytes, service: service)
        // Permitted a moment ago, refused now (the settings changed): no slow-down for a refusal not asked for.
        reply.delay = .zero
        service.record(request, result: reply.result, bytes: reply.bytes, seconds: (ContinuousClock.now - started).seconds)
        return reply
    }
}

extension HTTPFastLoop {
    /// A PUT head at the start of the unanswered bytes, `body` the bytes after it.
    func upload(_ head: FastRequestHead, body: UnsafeRawBufferPointer, on connection: HTTPFastConnection)
        -> HTTPFastUpload.Step
    {
        guard loop.stopDeadline == nil else { return .handOff }
        let request: FileRequest
        let contents: ByteBuffer
        let permission: UploadPermission
        let reservation: UploadReservation
        switch HTTPFastUpload.plan(head, body: body, fileProtocol: .http, client: connection.client,
                                   certificateSubject: nil, service: service) {
        case .incomplete: return .incomplete
        case .handOff: return .handOff
        case .store(let planned, let bytes, let allowed, let held):
            (request, contents, permission, reservation) = (planned, bytes, allowed, held)
        }
        connection.waiting = true
        let (service, inbox, descriptor, serial) = (self.service, self.inbox, connection.descriptor, connection.serial)
        let (keepAlive, started, upload) = (!head.close, ContinuousClock.now, request)
        service.write(upload, contents: contents, permitted: permission) { answer in
            reservation.release()
            inbox.post(HTTPFastUpload.Stored(descriptor: descriptor, serial: serial, answer: answer, request: upload,
                                             bytes: contents.readableBytes, keepAlive: keepAlive, started: started))
        }
        return .storing
    }

    /// An upload's answer, then the requests that waited behind it.
    func complete(_ stored: HTTPFastUpload.Stored) {
        guard let connection = connection(stored.descriptor), connection.serial == stored.serial else { return }
        connection.waiting = false
        let reply = HTTPFastUpload.reply(to: stored.answer, request: stored.request, bytes: stored.bytes,
                                         started: stored.started, service: service)
        let staysOpen = stored.keepAlive && !reply.close && loop.stopDeadline == nil
        append(HTTPExchange.head(of: reply, method: .PUT, version: .http1_1, keepAlive: staysOpen), for: connection)
        if let body = reply.body { append(body, for: connection) }
        if staysOpen {
            if !connection.input.isEmpty { answerBuffered(connection) }
            connection.headStarted = connection.input.isEmpty ? nil : ContinuousClock.now
        } else {
            connection.closeWhenWritten = true
        }
        flush(connection)
    }
}
#endif
