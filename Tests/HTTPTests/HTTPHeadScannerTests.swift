@testable import HTTP
import Testing
@testable import WireProtocols

@Suite("The HTTP fast path's request-head reader (RFC 9112)", .timeLimit(.minutes(2)))
struct HTTPHeadScannerTests {
    func scan(_ text: String) -> HTTPHeadScanner.Outcome {
        Array(text.utf8).withUnsafeBytes { HTTPHeadScanner.scan($0) }
    }

    @Test("a plain GET: path without the query, the fields it needs, and the head's length")
    func plainGet() {
        let head = "GET /T46/00156574b150.cfg?mac=1 HTTP/1.1\r\nHost: x\r\nuser-AGENT:  Yealink SIP-T46G 28.81.0.110 \r\n"
            + "If-None-Match: \"abc\"\r\nRange: bytes=0-9\r\nContent-Length: 0\r\n\r\n"
        guard case .request(let request) = scan(head + "GET /next HTTP/1.1\r\n") else {
            Issue.record("not accepted")
            return
        }
        #expect(request == FastRequestHead(
            method: .get, path: "/T46/00156574b150.cfg", userAgent: "Yealink SIP-T46G 28.81.0.110", host: "x",
            ifNoneMatch: "\"abc\"", range: "bytes=0-9", authorization: nil, close: false, length: head.utf8.count))
    }

    @Test("HEAD, Authorization and Connection: close are read")
    func headAndClose() {
        guard case .request(let request) = scan("HEAD / HTTP/1.1\r\nAuthorization: Basic eA==\r\nConnection: keep-alive, Close\r\n\r\n") else {
            Issue.record("not accepted")
            return
        }
        #expect(request.isHead)
        #expect(request.authorization == "Basic eA==")
        #expect(request.close)
    }

    @Test("Connection: close is an option among others, in any case, never a word that starts with it", arguments: [
        ("close", true), ("Keep-Alive, CLOSE", true), ("upgrade,\tclose\t", true), (",,close,", true),
        ("closed", false), ("keep-alive", false), ("clos", false), ("c lose", false), ("", false),
    ])
    func closeOption(value: String, closes: Bool) {
        #expect(HTTPHeadScanner.hasCloseOption(value) == closes)
    }

    @Test("a PUT of a local file (R5.4): its declared length, the body left for the loop to wait for")
    func smallPut() {
        let head = "PUT /00156574b150-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n"
        guard case .request(let request) = scan(head + "#!version:1") else {
            Issue.record("not accepted")
            return
        }
        #expect(request.method == .put)
        #expect(request.path == "/00156574b150-local.cfg")
        #expect(request.contentLength == 12)
        #expect(request.length == head.utf8.count)
        let limit = HTTPHeadScanner.maximumPutLength
        guard case .request(let largest) = scan("PUT /a HTTP/1.1\r\nContent-Length: \(limit)\r\n\r\n") else {
            Issue.record("the largest body the fast path takes was not accepted")
            return
        }
        #expect(largest.contentLength == limit)
        #expect(scan("PUT /a HTTP/1.1\r\nContent-Length: \(limit + 1)\r\n\r\n") == .handOff)
    }

    @Test("every prefix of a valid head is incomplete, never a wrong answer")
    func prefixes() {
        for text in ["GET /a.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\n\r\n",
                     "PUT /a-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"] {
            let head = Array(text.utf8)
            for length in 0..<head.count {
                let outcome = Array(head.prefix(length)).withUnsafeBytes { HTTPHeadScanner.scan($0) }
                #expect(outcome == .incomplete, "prefix of \(length) bytes of \(text.debugDescription)")
            }
        }
    }

    @Test("anything else goes to the full parser", arguments: [
        "POST /a HTTP/1.1\r\n\r\n", "PUT /a HTTP/1.1\r\n\r\nabc", "PUT /a HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", "PUT /a HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "get /a HTTP/1.1\r\n\r\n",
        "GET /a HTTP/1.0\r\n\r\n", "GET /a HTTP/1.1 \r\n\r\n", "GET  /a HTTP/1.1\r\n\r\n", "GET a HTTP/1.1\r\n\r\n",
        "GET http://x/a HTTP/1.1\r\n\r\n", "GET /a\u{7F} HTTP/1.1\r\n\r\n", "GET /a HTTP/1.1\n\n",
        "GET /a HTTP/1.1\r\nHost: x\n\r\n", "GET /a HTTP/1.1\r\n folded\r\n\r\n", "GET /a HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET /a HTTP/1.1\r\n: empty name\r\n\r\n", "GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET /a HTTP/1.1\r\nX: a\u{1}b\r\n\r\n", "GET /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
        "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET /a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
        "GET /a HTTP/1.1\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n", "GARBAGE", "\u{0}\u{1}",
    ])
    func handOff(_ text: String) {
        #expect(scan(text) == .handOff, "\(text.debugDescription)")
    }

    @Test("a head longer than the limit goes to the full parser, finished or not")
    func tooLong() {
        let long = "GET /a HTTP/1.1\r\nX: " + String(repeating: "y", count: HTTPHeadScanner.maximumHeadLength)
        #expect(scan(long) == .handOff)
        #expect(scan(long + "\r\n\r\n") == .handOff)
    }

    @Test("random bytes never crash the reader, and whatever it accepts ends with a blank line it measured")
    func randomInput() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("GETHAD /.?#:\r\n\t abcXY-0129".utf8) + [0, 0x7F, 0xC3, 0xA9]
        for round in 0..<20_000 {
            let seed = round % 3 == 0 ? Array("GET /a HTTP/1.1\r\n".utf8) : []
            let bytes = seed + (0..<Int.random(in: 0..<60, using: &generator)).map { _ in
                alphabet.randomElement(using: &generator)!
            }
            let outcome = bytes.withUnsafeBytes { HTTPHeadScanner.scan($0) }
            if case .request(let request) = outcome {
                #expect(request.length <= bytes.count)
                #expect(Array(bytes[(request.length - 4)..<request.length]) == [13, 10, 13, 10])
            }
        }
    }

    @Test("the fast path's reader hands a head longer than the limit to the full path, which refuses it ([limits] head_bytes, S6)")
    func scannerHandsOff() {
        let head = "GET /a.cfg HTTP/1.1\r\nHost: x\r\nX-Pad: " + String(repeating: "a", count: 2000) + "\r\n\r\n"
        let outcome = Array(head.utf8).withUnsafeBytes { HTTPHeadScanner.scan($0, limit: 1024) }
        #expect(outcome == .handOff)
        let accepted = Array(head.utf8).withUnsafeBytes { HTTPHeadScanner.scan($0, limit: 4096) }
        guard case .request = accepted else {
            Issue.record("\(accepted)")
            return
        }
    }
}
