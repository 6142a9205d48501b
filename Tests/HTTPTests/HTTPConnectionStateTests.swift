import FileService
@testable import HTTP
import NIOCore
import NIOHTTP1
import WireProtocols
import Testing

/// The full pipeline's connection state machine, without a channel: parts in, actions out (RFC 9112 §9.3).
@Suite("HTTP connection state: pipelining, uploads, keep-alive, shutdown", .timeLimit(.minutes(2)))
struct HTTPConnectionStateTests {
    func head(_ method: HTTPMethod, _ uri: String, version: HTTPVersion = .http1_1,
              headers: HTTPHeaders = [:]) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: version, method: method, uri: uri, headers: headers))
    }

    func file(_ head: HTTPRequestHead) -> FileRequest {
        FileRequest(.http, path: HTTPRequestTarget.path(of: Substring(head.uri)).description, client: "192.0.2.1")
    }

    func path(_ action: HTTPConnectionState.Action) -> String? {
        switch action {
        case .read(let request), .checkUpload(let request), .write(let request, _, _), .respond(_, let request):
            request.file.path
        case .none: nil
        }
    }

    let budget = UploadBudget(limit: 1 << 20)

    /// A connection whose PUT of `path` was checked and allowed up to 100 bytes, its body held in `budget`; the
    /// action that check came to.
    func allowedUpload(_ path: String, headers: HTTPHeaders = [:], in budget: UploadBudget)
        -> (HTTPConnectionState, HTTPConnectionState.Action)
    {
        var state = HTTPConnectionState(isTLS: false)
        guard case .checkUpload(let request) = state.received(head(.PUT, path, headers: headers), fileRequest: file) else {
            Issue.record("no upload check")
            return (state, .none)
        }
        let action = state.uploadChecked(nil, limit: 100, reservation: budget.reservation(), request: request)
        return (state, action)
    }

    @Test("[limits] upload_mb: a body is held in the server's upload budget as it arrives and given back once stored or dropped; past the budget 503 with Retry-After and close, a declared length at once (S6)")
    func uploadBudget() {
        let budget = UploadBudget(limit: 10)
        var (state, _) = allowedUpload("/00156574b150-local.cfg", in: budget)
        _ = state.received(.body(ByteBuffer(string: "abcdef")), fileRequest: file)
        #expect(budget.heldBytes == 6)
        // Another upload meanwhile: 6 + 5 is past 10.
        var (other, _) = allowedUpload("/00156574b151-local.cfg", in: budget)
        guard case .respond(let busy, _) = other.received(.body(ByteBuffer(string: "12345")), fileRequest: file) else {
            Issue.record("an upload past the budget was not refused")
            return
        }
        #expect(busy.status == .serviceUnavailable && busy.close && busy.headers["Retry-After"] == ["5"])
        #expect(budget.heldBytes == 6)
        // The first one whole: written, and its share given back when the reservation goes.
        guard case .write(_, let body, let reservation) = state.received(.end(nil), fileRequest: file) else {
            Issue.record("the upload was not written")
            return
        }
        #expect(String(buffer: body) == "abcdef" && reservation.heldBytes == 6)
        reservation.release()
        #expect(budget.heldBytes == 0)
        // A declared length past the budget is refused before the body.
        let (_, declared) = allowedUpload("/00156574b152-local.cfg", headers: ["Content-Length": "11"], in: budget)
        guard case .respond(let refused, _) = declared else {
            Issue.record("a declared length past the budget was not refused at once")
            return
        }
        #expect(refused.status == .serviceUnavailable && budget.heldBytes == 0)
        // A connection dropped mid-body gives its share back with its state.
        do {
            var (dropped, _) = allowedUpload("/00156574b153-local.cfg", in: budget)
            _ = dropped.received(.body(ByteBuffer(string: "0123456789")), fileRequest: file)
            #expect(budget.heldBytes == 10)
        }
        #expect(budget.heldBytes == 0)
    }

    @Test("a pipelined request waits until the answer before it is written, then comes out in order")
    func pipelining() {
        var state = HTTPConnectionState(isTLS: false)
        let step1 = path(state.received(head(.GET, "/a.cfg?x=1"), fileRequest: file)) == nil
        #expect(step1)
        guard case .read(let first) = state.received(.end(nil), fileRequest: file) else {
            Issue.record("the first GET was not read")
            return
        }
        #expect(first.file.path == "/a.cfg")
        // The next request arrives while the first answer is on its way: held.
        let step2 = path(state.received(head(.GET, "/b.cfg"), fileRequest: file)) == nil
        #expect(step2)
        let step3 = path(state.received(.end(nil), fileRequest: file)) == nil
        #expect(step3)
        let step4 = state.nextQueued() == nil
        #expect(step4)
        let step5 = state.writing(HTTPReply(status: .ok, result: .ok), for: first)
        #expect(step5)
        var actions: [HTTPConnectionState.Action] = []
        while let part = state.nextQueued() { actions.append(state.received(part, fileRequest: file)) }
        #expect(actions.compactMap(path) == ["/b.cfg"])
        #expect(!state.isIdle)
    }

    @Test("PUT: checked at its head, its body read up to the limit, then written; over the limit 413 and close")
    func upload() {
        var state = HTTPConnectionState(isTLS: false)
        guard case .checkUpload(let request) = state.received(head(.PUT, "/00156574b150-local.cfg"), fileRequest: file)
        else { Issue.record("no upload check"); return }
        let step6 = path(state.uploadChecked(nil, limit: 6, reservation: budget.reservation(), request: request)) == nil
        #expect(step6)
        let step7 = path(state.received(.body(ByteBuffer(string: "abc")), fileRequest: file)) == nil
        #expect(step7)
        let step8 = path(state.received(.body(ByteBuffer(string: "def")), fileRequest: file)) == nil
        #expect(step8)
        guard case .write(_, let body, _) = state.received(.end(nil), fileRequest: file) else {
            Issue.record("the upload was not written")
            return
        }
        #expect(String(buffer: body) == "abcdef")
        let step9 = state.writing(HTTPReply(status: .created, result: .stored), for: request)
        #expect(step9)

        _ = state.received(head(.PUT, "/00156574b150-local.cfg"), fileRequest: file)
        _ = state.uploadChecked(nil, limit: 2, reservation: budget.reservation(), request: request)
        guard case .respond(let reply, _) = state.received(.body(ByteBuffer(string: "abc")), fileRequest: file) else {
            Issue.record("an upload over its limit was not refused")
            return
        }
        #expect(reply.status == .payloadTooLarge && reply.close)
        let step10 = !state.writing(reply, for: request)
        #expect(step10)
    }

    @Test("a refused PUT's body is read and dropped, then the refusal keeps the connection; a too-large one closes it")
    func refusedUpload() {
        var state = HTTPConnectionState(isTLS: false)
        guard case .checkUpload(let request) = state.received(head(.PUT, "/evil.cfg"), fileRequest: file) else {
            Issue.record("no upload check")
            return
        }
        var forbidden = HTTPReply(status: .forbidden, result: .forbidden)
        forbidden.close = true
        let step11 = path(state.uploadChecked(forbidden, limit: 0, reservation: budget.reservation(), request: request)) == nil
        #expect(step11)
        let step12 = path(state.received(.body(ByteBuffer(string: "ignored")), fileRequest: file)) == nil
        #expect(step12)
        guard case .respond(let reply, _) = state.received(.end(nil), fileRequest: file) else {
            Issue.record("the refusal was not sent")
            return
        }
        #expect(reply.status == .forbidden && !reply.close)
        let step13 = state.writing(reply, for: request)
        #expect(step13)

        _ = state.received(head(.PUT, "/00156574b150-local.cfg"), fileRequest: file)
        let tooLarge = HTTPReply(status: .payloadTooLarge, result: .tooLarge)
        guard case .respond(let refused, _) = state.uploadChecked(tooLarge, limit: 0, reservation: budget.reservation(), request: request) else {
            Issue.record("a declared length over the limit was not refused at once")
            return
        }
        #expect(refused.status == .payloadTooLarge)
    }

    @Test("keep-alive: HTTP/1.1 by default, not after Connection: close, HTTP/1.0, a closing reply or shutdown")
    func keepAlive() {
        func keeps(_ part: HTTPServerRequestPart, reply: HTTPReply = HTTPReply(status: .ok, result: .ok),
                   shuttingDown: Bool = false) -> Bool {
            var state = HTTPConnectionState(isTLS: false)
            _ = state.received(part, fileRequest: file)
            guard case .read(let request) = state.received(.end(nil), fileRequest: file) else { return false }
            if shuttingDown {
                let closesNow = state.shutdown()
                #expect(!closesNow)  // a request in progress: not closed at once
            }
            return state.writing(reply, for: request)
        }
        #expect(keeps(head(.GET, "/a.cfg")))
        #expect(!keeps(head(.GET, "/a.cfg", headers: ["Connection": "close"])))
        #expect(!keeps(head(.GET, "/a.cfg", version: .http1_0)))
        var closing = HTTPReply(status: .ok, result: .ok)
        closing.close = true
        #expect(!keeps(head(.GET, "/a.cfg"), reply: closing))
        #expect(!keeps(head(.GET, "/a.cfg"), shuttingDown: true))
        var idle = HTTPConnectionState(isTLS: false)
        let closesNow = idle.shutdown()
        #expect(closesNow)
    }
}
