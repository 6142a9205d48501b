import Foundation
@testable import FTP
import NIOCore
import Testing
import WireProtocols

/// The decisions every FTP session driver shares (RFC 959, 2428, 2577, 3659, 4217), without sockets.
@Suite("FTP session state: what each command asks for", .timeLimit(.minutes(2)))
struct FTPSessionStateTests {
    private func code(_ action: FTPSessionState.Action) -> Int? {
        if case .reply(let reply) = action { return reply.code }
        return nil
    }

    @Test("before login: known commands get 530, unknown ones 502, PASS without USER 503; USER then PASS asks to check")
    func beforeLogin() {
        var state = FTPSessionState()
        #expect(code(state.action(for: "RETR a.cfg", tlsAvailable: false, client: "192.0.2.7")) == 530)
        #expect(code(state.action(for: "EPSV", tlsAvailable: false, client: "192.0.2.7")) == 530)
        #expect(code(state.action(for: "XYZZ", tlsAvailable: false, client: "192.0.2.7")) == 502)
        #expect(code(state.action(for: "", tlsAvailable: false, client: "192.0.2.7")) == 500)
        #expect(code(state.action(for: "PASS pw", tlsAvailable: false, client: "192.0.2.7")) == 503)
        #expect(code(state.action(for: "USER phones", tlsAvailable: false, client: "192.0.2.7")) == 331)
        #expect(state.action(for: "PASS p w\r", tlsAvailable: false, client: "192.0.2.7")
                    == .login(username: "phones", password: "p w"))
        #expect(state.pendingUser == nil)
        #expect(state.loggedIn(FTPLogin(username: "phones", password: "p w", isAnonymous: false)).code == 230)
        #expect(code(state.action(for: "PWD", tlsAvailable: false, client: "192.0.2.7")) == 257)
    }

    @Test("AUTH TLS only when TLS is configured; PBSZ and PROT only after it; TLS asks for a new login")
    func tls() {
        var state = FTPSessionState()
        #expect(code(state.action(for: "AUTH TLS", tlsAvailable: false, client: "192.0.2.7")) == 502)
        #expect(code(state.action(for: "AUTH KERBEROS", tlsAvailable: true, client: "192.0.2.7")) == 504)
        #expect(code(state.action(for: "PROT P", tlsAvailable: true, client: "192.0.2.7")) == 503)
        #expect(state.action(for: "auth tls", tlsAvailable: true, client: "192.0.2.7") == .startTLS)
        state.login = FTPLogin(username: "phones", password: "pw", isAnonymous: false)
        state.startedTLS()
        #expect(state.login == nil)
        #expect(code(state.action(for: "AUTH TLS", tlsAvailable: true, client: "192.0.2.7")) == 503)
        #expect(code(state.action(for: "PBSZ 0", tlsAvailable: true, client: "192.0.2.7")) == 200)
        #expect(code(state.action(for: "PROT P", tlsAvailable: true, client: "192.0.2.7")) == 200)
        #expect(state.protectData)
        #expect(code(state.action(for: "PROT S", tlsAvailable: true, client: "192.0.2.7")) == 504)
        #expect(code(state.action(for: "CCC", tlsAvailable: true, client: "192.0.2.7")) == 533)
    }

    @Test("RFC 2577: PORT and EPRT go only to the client's own address and an unprivileged port")
    func noBounce() {
        var state = FTPSessionState()
        state.login = FTPLogin(username: "phones", password: "pw", isAnonymous: false)
        #expect(code(state.action(for: "PORT 192,0,2,1,195,80", tlsAvailable: false, client: "192.0.2.7")) == 504)
        #expect(code(state.action(for: "PORT 192,0,2,7,0,21", tlsAvailable: false, client: "192.0.2.7")) == 504)
        #expect(code(state.action(for: "PORT 192,0,2,7", tlsAvailable: false, client: "192.0.2.7")) == 501)
        #expect(state.action(for: "PORT 192,0,2,7,195,80", tlsAvailable: false, client: "::ffff:192.0.2.7")
                    == .connectActive(host: "192.0.2.7", port: 50000, verb: "PORT"))
        #expect(state.action(for: "EPRT |2|2001:db8::7|50000|", tlsAvailable: false, client: "2001:db8::7")
                    == .connectActive(host: "2001:db8::7", port: 50000, verb: "EPRT"))
    }

    @Test("paths resolve against the working directory; CWD moves only to a directory the tree has")
    func directories() {
        var state = FTPSessionState()
        let login = FTPLogin(username: "ftp", password: "", isAnonymous: true)
        state.login = login
        #expect(state.action(for: "CWD T23G", tlsAvailable: false, client: "c") == .file(.changeDirectory("/T23G"), login))
        let directory = FTPEntry(name: "T23G", isDirectory: true, size: 0, modified: Date())
        #expect(state.reply(to: .changeDirectory("/T23G"), entry: .success(directory)).code == 250)
        #expect(state.directory == "/T23G")
        #expect(state.action(for: "SIZE ../a.cfg", tlsAvailable: false, client: "c") == .file(.size("/a.cfg"), login))
        #expect(state.action(for: "LIST -la sub", tlsAvailable: false, client: "c")
                    == .file(.list(verb: "LIST", path: "/T23G/sub"), login))
        let file = FTPEntry(name: "a.cfg", isDirectory: false, size: 12, modified: Date(timeIntervalSince1970: 0))
        #expect(state.reply(to: .changeDirectory("/T23G/a.cfg"), entry: .success(file)).code == 550)
        #expect(state.directory == "/T23G")
        #expect(state.reply(to: .changeDirectory("/x"), entry: .failure(.notFound("No such file"))).code == 550)
        #expect(state.reply(to: .size("/a.cfg"), entry: .success(file)).lines == ["12"])
        #expect(state.reply(to: .size("/T23G"), entry: .success(directory)).code == 550)
        #expect(state.reply(to: .modificationTime("/a.cfg"), entry: .success(file)).lines == ["19700101000000"])
        #expect(code(state.action(for: "CDUP", tlsAvailable: false, client: "c")) == 250)
        #expect(state.directory == "/")
    }

    @Test("REST applies to the next RETR only; anonymous users cannot STOR; TYPE A converts line ends both ways")
    func transfers() {
        var state = FTPSessionState()
        let anonymous = FTPLogin(username: "ftp", password: "", isAnonymous: true)
        state.login = anonymous
        #expect(code(state.action(for: "REST 10", tlsAvailable: false, client: "c")) == 350)
        #expect(state.action(for: "RETR a.cfg", tlsAvailable: false, client: "c") == .file(.retrieve("/a.cfg", offset: 10), anonymous))
        #expect(state.action(for: "RETR a.cfg", tlsAvailable: false, client: "c") == .file(.retrieve("/a.cfg", offset: 0), anonymous))
        #expect(code(state.action(for: "REST -1", tlsAvailable: false, client: "c")) == 501)
        #expect(code(state.action(for: "STOR a-local.cfg", tlsAvailable: false, client: "c")) == 550)
        let file = ByteBuffer(string: "a\nb\n")
        #expect(state.download(file, offset: 2).map { String(buffer: $0) } == "b\n")
        #expect(state.download(file, offset: 5) == nil)
        #expect(code(state.action(for: "TYPE A", tlsAvailable: false, client: "c")) == 200)
        #expect(state.download(file, offset: 0).map { String(buffer: $0) } == "a\r\nb\r\n")
        #expect(String(buffer: state.upload(ByteBuffer(string: "a\r\nb\r\n"))) == "a\nb\n")
        #expect(code(state.action(for: "TYPE E", tlsAvailable: false, client: "c")) == 504)
    }

    @Test("LIST and NLST of a file list that file (NLST by its path); MLSD of a file, or a missing path, lists nothing")
    func fileListing() {
        let file = FTPEntry(name: "a.cfg", isDirectory: false, size: 12, modified: Date(timeIntervalSince1970: 0))
        let directory = FTPEntry(name: "T23G", isDirectory: true, size: 0, modified: Date(timeIntervalSince1970: 0))
        #expect(FTPSessionState.fileListing(verb: "LIST", path: "/sub/a.cfg", entry: .success(file))?.name == "a.cfg")
        #expect(FTPSessionState.fileListing(verb: "NLST", path: "/sub/a.cfg", entry: .success(file))?.name == "/sub/a.cfg")
        #expect(FTPSessionState.fileListing(verb: "MLSD", path: "/sub/a.cfg", entry: .success(file)) == nil)
        #expect(FTPSessionState.fileListing(verb: "LIST", path: "/T23G", entry: .success(directory)) == nil)
        #expect(FTPSessionState.fileListing(verb: "LIST", path: "/x", entry: .failure(.notFound("No such file"))) == nil)
        #expect(FTPSessionState.noSuchFile.code == 550)
    }

    @Test("passive replies: 229 always; 227 only for an IPv4 address")
    func passiveReplies() {
        #expect(FTPSessionState.passiveReply(extended: true, port: 50001, address: "::1")?.wire
                    == "229 Entering Extended Passive Mode (|||50001|)\r\n")
        #expect(FTPSessionState.passiveReply(extended: false, port: 50001, address: "192.0.2.1")?.wire
                    == "227 Entering Passive Mode (192,0,2,1,195,81)\r\n")
        #expect(FTPSessionState.passiveReply(extended: false, port: 50001, address: "2001:db8::1") == nil)
    }
}
