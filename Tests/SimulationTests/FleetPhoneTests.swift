import ProvisioningCore
import Testing
@testable import Simulation

@Suite("a fleet's phone without the I/O: its requests in order, R5.4's upload, its result", .timeLimit(.minutes(5)))
struct FleetPhoneTests {
    static let header = "#!version:1.0.0.1\n"
    static let synced = header + "static.auto_provision.custom.sync = 1\nstatic.auto_provision.custom.protect = 1\n"

    /// Runs a phone against files by name (the rest missing); the requests it made, as `METHOD name`.
    func run(_ files: [String: String], local: String?) throws -> ([String], FleetReport.PhoneResult) {
        var phone = FleetPhone(Fleet.Phone(mac: try MACAddress("00156574b150"), model: try ModelCatalog.requireModel(named: "T46S")),
                               serverURL: ServerURLTemplate("http://srv/"), firmware: "66.86.0.15",
                               localFile: local.map { Array($0.utf8) })
        var made: [String] = []
        for _ in 0..<20 {
            switch phone.next() {
            case .done(let result):
                return (made, result)
            case .request(let url, let method, let body):
                let name = String(url.path.dropFirst())
                made.append("\(method.rawValue) \(name)")
                let attempt: PhoneClient.Attempt = method == .PUT ? .found("201", [])
                    : files[name].map { .found("200", Array($0.utf8)) } ?? .notFound("404")
                phone.answered(url, method: method, bodyBytes: body.count, attempt: attempt, attempts: 1, seconds: 0.001)
            }
        }
        Issue.record("the phone never finished: \(made)")
        return (made, FleetReport.PhoneResult(mac: "", transfers: [], seconds: 0, failure: "never"))
    }

    @Test("R3.3, R5.4: the legacy sequence, then its local file uploaded when the server's copy differs")
    func uploadsWhenDifferent() throws {
        let files = ["y000000000066.cfg": FleetPhoneTests.synced, "00156574b150.cfg": FleetPhoneTests.header + "a = 1\n"]
        let local = FleetPhoneTests.header + "account.1.label = mine\n"
        let (made, result) = try run(files, local: local)
        #expect(made == ["GET 00156574b150.boot", "GET y000000000000.boot", "GET y000000000066.cfg", "GET 00156574b150.cfg",
                         "GET 00156574b150-local.cfg", "PUT 00156574b150-local.cfg"])
        #expect(result.failure == nil && result.transfers.count == 6 && result.mac == "00156574b150")
        #expect(result.transfers.last?.method == "PUT" && result.transfers.last?.bytes == local.utf8.count)
    }

    @Test("R5.4: an equal copy on the server is not sent again; without sync nothing is")
    func noUpload() throws {
        let local = FleetPhoneTests.header + "account.1.label = mine\n"
        var files = ["y000000000066.cfg": FleetPhoneTests.synced, "00156574b150-local.cfg": local]
        #expect(try run(files, local: local).0.last == "GET 00156574b150-local.cfg")
        files["y000000000066.cfg"] = FleetPhoneTests.header + "a = 1\n"
        #expect(try run(files, local: local).0 == ["GET 00156574b150.boot", "GET y000000000000.boot", "GET y000000000066.cfg",
                                                   "GET 00156574b150.cfg"])
    }

    @Test("a phone that reaches no configuration file fails, with its reason")
    func failure() throws {
        #expect(try run([:], local: nil).1.failure == "not found")
        #expect(try run(["y000000000066.cfg": "no header\n"], local: nil).1.failure == "bad file")
    }
}

@Suite("an HTTP response read from a connection's bytes, without the I/O", .timeLimit(.minutes(5)))
struct HTTPResponseReaderTests {
    func read(_ pieces: [String], end: Bool = false) -> HTTPResponseReader.State {
        var reader = HTTPResponseReader()
        var state = HTTPResponseReader.State.incomplete
        for piece in pieces { state = Array(piece.utf8).withUnsafeBytes { reader.append($0) } }
        return end ? reader.finish() : state
    }

    @Test("by Content-Length, in any pieces; the challenge of a 401 is kept")
    func contentLength() {
        #expect(read(["HTTP/1.1 200 OK\r\nContent-", "Length: 5\r\n\r\nab", "cde"]) == .complete(.init(status: 200, body: Array("abcde".utf8))))
        #expect(read(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"]) == .incomplete)
        #expect(read(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"], end: true) == .malformed("truncated body"))
        #expect(read(["HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a\"\r\nContent-Length: 0\r\n\r\n"])
                == .complete(.init(status: 401, body: [], challenge: "Digest realm=\"a\"")))
    }

    @Test("chunked, up to the connection's end, and bodiless statuses")
    func otherBodies() {
        #expect(read(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "2;x=y\r\nde\r\n0\r\n\r\n"])
                == .complete(.init(status: 200, body: Array("abcde".utf8))))
        #expect(read(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]) == .malformed("bad chunk"))
        #expect(read(["HTTP/1.0 200 OK\r\n\r\nall of it"]) == .incomplete)
        #expect(read(["HTTP/1.0 200 OK\r\n\r\nall of it"], end: true) == .complete(.init(status: 200, body: Array("all of it".utf8))))
        #expect(read(["HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"]) == .complete(.init(status: 304, body: [])))
        #expect(read(["garbage\r\n\r\n"]) == .malformed("bad status line"))
        #expect(read([], end: true) == .malformed("connection closed without a response"))
    }
}
