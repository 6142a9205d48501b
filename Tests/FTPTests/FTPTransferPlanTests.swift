import Foundation
@testable import FTP
import NIOCore
import Testing
import WireProtocols

/// What every FTP driver does once the file service has answered RETR, LIST/NLST/MLSD or STOR: one plan, carried
/// out alike by the SwiftNIO session and the epoll loop.
@Suite("FTP transfer plans: RETR, LIST, STOR after the file service answers", .timeLimit(.minutes(2)))
struct FTPTransferPlanTests {
    let file = FTPEntry(name: "a.cfg", isDirectory: false, size: 7, modified: Date(timeIntervalSince1970: 0))

    @Test("RETR: the bytes with their 150; a refusal recorded with its result; REST beyond the end refused unrecorded")
    func retrieve() {
        var state = FTPSessionState()
        #expect(state.retrieve(.success(ByteBuffer(string: "abc\n")), path: "/a.cfg", offset: 1)
                    == .send(ByteBuffer(string: "bc\n"), announce: FTPReply(150, "Opening data connection for /a.cfg (3 bytes)"),
                             result: .ok))
        #expect(state.retrieve(.failure(.denied("no")), path: "/a.cfg", offset: 0)
                    == .refuse(FTPReply(550, "no"), result: .forbidden))
        #expect(state.retrieve(.success(ByteBuffer(string: "abc")), path: "/a.cfg", offset: 4)
                    == .refuse(FTPSessionState.restartBeyondEnd, result: nil))
        // TYPE A: line ends go out as CRLF (RFC 959 §3.1.1.1), and the 150 counts what is sent.
        state.login = FTPLogin(username: "phones", password: "pw", isAnonymous: false)
        #expect(state.action(for: "TYPE A", tlsAvailable: false, client: "192.0.2.7") == .reply(FTPReply(200, "Type set to A")))
        #expect(state.retrieve(.success(ByteBuffer(string: "a\nb\n")), path: "/a.cfg", offset: 0)
                    == .send(ByteBuffer(string: "a\r\nb\r\n"),
                             announce: FTPReply(150, "Opening data connection for /a.cfg (6 bytes)"), result: .ok))
    }

    @Test("LIST of a file lists the file, NLST names it by its path, MLSD of a non-directory is refused; entry asked only then")
    func list() {
        var asked = 0
        let entry = { () -> Result<FTPEntry, FTPFailure> in asked += 1; return .success(file) }
        guard case .send(let text, _, let result) = FTPSessionState.list(.success([file]), verb: "NLST", path: "/",
                                                                          entry: entry) else {
            Issue.record("a directory listing was not sent")
            return
        }
        #expect(String(buffer: text) == "a.cfg\r\n" && result == .listed && asked == 0)
        guard case .send(let named, let announce, _) = FTPSessionState.list(.failure(.notFound("x")), verb: "NLST",
                                                                             path: "/d/a.cfg", entry: entry) else {
            Issue.record("NLST of a file was not sent")
            return
        }
        #expect(String(buffer: named) == "/d/a.cfg\r\n" && announce == FTPReply(150, "Opening data connection for NLST /d/a.cfg"))
        #expect(FTPSessionState.list(.failure(.notFound("No such directory")), verb: "MLSD", path: "/a.cfg", entry: entry)
                    == .refuse(FTPReply(550, "No such directory"), result: nil))
        let missing = { () -> Result<FTPEntry, FTPFailure> in asked += 1; return .failure(.notFound("gone")) }
        #expect(FTPSessionState.list(.failure(.notFound("x")), verb: "LIST", path: "/b.cfg", entry: missing)
                    == .refuse(FTPSessionState.noSuchFile, result: nil))
        #expect(asked == 2)
        #expect(FTPSessionState.list(.failure(.denied("no")), verb: "LIST", path: "/T23G_1", entry: entry)
                    == .refuse(FTPReply(550, "no"), result: nil))
    }

    @Test("STOR: the smaller of the path's limit and the server's; a refusal recorded; the stored outcome's words")
    func store() {
        #expect(FTPSessionState.store(.success(1000), path: "/x-local.cfg", serverLimit: 64)
                    == .receive(limit: 64, announce: FTPReply(150, "Ready to receive /x-local.cfg")))
        #expect(FTPSessionState.store(.success(10), path: "/x-local.cfg", serverLimit: 64)
                    == .receive(limit: 10, announce: FTPReply(150, "Ready to receive /x-local.cfg")))
        #expect(FTPSessionState.store(.failure(.denied("uploads of 'a' are not allowed")), path: "/a", serverLimit: 64)
                    == .refuse(FTPReply(550, "uploads of 'a' are not allowed"), result: .forbidden))
        #expect(FTPTransferPlan.tooLarge(64) == FTPReply(552, "Upload exceeds 64 bytes"))
        #expect(FTPTransferPlan.stored(nil) == (.stored, FTPReply(226, "Transfer complete")))
        #expect(FTPTransferPlan.stored(.failed("disk full")) == (.failed, FTPReply(451, "disk full")))
    }
}
