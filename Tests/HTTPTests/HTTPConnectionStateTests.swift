import FileService
@testable import HTTP
import NIOCore
import NIOHTTP1
import Testing

/// The full pipeline's connection state machine, without a channel: parts in, actions out (RFC 9112 §9.3).
@Suite("HTTP connection state: pipelining, uploads, keep-alive, shutdown", .timeLimit(.minutes(2)))
struct HTTPConnectionStateTests {
    func head(_ method: HTTPMethod, _ uri: String, version: HTTPVersion = .http1_1,
              headers: HTTPHeaders = [:]) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: version, method: method, uri: uri, headers: headers))
    }

    func file(_ head: HTTPRequestHead) -> FileRequest {
        FileRequest(.http, path: HTTPRoute.path(of: Substring(head.uri)).description, client: "192.0.2.1")
    }

    func path(_ action: HTTPConnectionState.Action) -> String? {
        switch action {
        case .read(let request), .checkUpload(let request), .write(let request, _), .respond(_, let request):
            request.file.path
        case .none: nil
        }
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
        let step6 = path(state.uploadChecked(nil, limit: 6, request: request)) == nil
        #expect(step6)
        let step7 = path(state.received(.body(ByteBuffer(string: "abc")), fileRequest: file)) == nil
        #expect(step7)
        let step8 = path(state.received(.body(ByteBuffer(string: "def")), fileRequest: file)) == nil
        #expect(step8)
        guard case .write(_, let body) = state.received(.end(nil), fileRequest: file) else {
            Issue.record("the upload was not written")
            return
        }
        #expect(String(buffer: body) == "abcdef")
        let step9 = state.writing(HTTPReply(status: .created, result: .stored), for: request)
        #expect(step9)

        _ = state.received(head(.PUT, "/00156574b150-local.cfg"), fileRequest: file)
        _ = state.uploadChecked(nil, limit: 2, request: request)
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
        let step11 = path(state.uploadChecked(forbidden, limit: 0, request: request)) == nil
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
        guard case .respond(let refused, _) = state.uploadChecked(tooLarge, limit: 0, request: request) else {
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
