import DHCP
import Foundation
import Testing
@testable import FileService

@Suite("Credentials and upload names", .timeLimit(.minutes(2)))
struct CredentialTests {
    @Test("S5: failures from one address: three answered at once, then held 250 ms doubling to 8 s; forgotten after five quiet minutes")
    func failureSchedule() {
        let checker = CredentialChecker(directories: [])
        let start = ContinuousClock.now
        let delays = (0..<11).map { checker.failed("192.0.2.7", now: start + .seconds($0)) }
        #expect(delays == [.zero, .zero, .zero, .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
                           .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        // Another address is not slowed down by this one's failures.
        #expect(checker.failed("192.0.2.8", now: start + .seconds(11)) == .zero)
        // After five quiet minutes the count starts again; a success forgets it at once.
        #expect(checker.failed("192.0.2.7", now: start + .seconds(10 + 301)) == .zero)
        for second in 0..<4 { _ = checker.failed("192.0.2.9", now: start + .seconds(second)) }
        checker.forgetFailures("192.0.2.9")
        #expect(checker.failed("192.0.2.9", now: start + .seconds(5)) == .zero)
    }

    @Test("upload patterns", arguments: [
        ("*-local.cfg", "00156574b150-local.cfg", true), ("*-local.cfg", "y000000000000.boot", false),
        ("*-contact.xml", "00156574b150-contact.xml", true), ("?.cfg", "a.cfg", true), ("?.cfg", "ab.cfg", false),
        ("*", "anything", true),
        ("$MAC-local.cfg", "00156574b150-local.cfg", true), ("$MAC-local.cfg", "evil-local.cfg", false),
        ("$MAC-local.cfg", "00156574B150-local.cfg", false), ("$MAC-local.cfg", "00156574b15-local.cfg", false),
        ("$MAC-local.cfg", "00156574b1500-local.cfg", false), ("$MAC-contact.xml", "00156574b150-contact.xml", true),
        ("$MAC*.xml", "00156574b150-favorites.xml", true),
    ])
    func glob(pattern: String, name: String, matches: Bool) {
        #expect(Glob.matches(pattern: pattern, name: name) == matches)
    }

    @Test("Digest (RFC 7616 §3.9.1 example, SHA-256 and MD5) is verified against the password")
    func digest() throws {
        let checker = CredentialChecker(directories: [])
        let account = DirectoryAccount(path: "http-auth@example.org", username: "Mufasa", password: "Circle of Life")
        for (algorithm, hash) in [("SHA-256", sha256), ("MD5", md5)] {
            // Each challenge has a nonce of its own.
            let challenge = checker.challenges(realm: account.path, stale: false)
            #expect(challenge.count == 3)
            let nonce = try #require(challenge[0].split(separator: "\"").dropFirst(5).first.map(String.init))
            let ha1 = hash("Mufasa:http-auth@example.org:Circle of Life")
            let ha2 = hash("GET:/dir/index.html")
            let response = hash("\(ha1):\(nonce):00000001:f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:\(ha2)")
            let header = "username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
                + "algorithm=\(algorithm), nonce=\"\(nonce)\", nc=00000001, "
                + "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"\(response)\""
            let digest = try #require(DigestResponse(header: header, method: "GET"))
            let request = FileRequest(.http, path: "/dir/index.html",
                                      client: "192.0.2.1", credentials: .digest(digest))
            guard case .granted = checker.check(request, for: account) else { Issue.record("\(algorithm) refused"); continue }
            // The same response replayed for another path is refused (RFC 7616 §3.4.6).
            let replayed = FileRequest(.http, path: "/other.cfg",
                                       client: "192.0.2.2", credentials: .digest(digest))
            guard case .challenge = checker.check(replayed, for: account) else { Issue.record("\(algorithm) replay"); continue }
            var wrong = digest
            wrong.response = String(repeating: "0", count: response.count)
            let bad = FileRequest(.http, path: "/dir/index.html", client: "192.0.2.1",
                                  credentials: .digest(wrong))
            guard case .challenge = checker.check(bad, for: account) else { Issue.record("\(algorithm) accepted a bad response"); continue }
        }
    }

    @Test("what each protocol can carry decides S5: TFTP refused, HTTP challenged, FTP's other account not a guess")
    func protocolsDecide() {
        #expect(FileProtocol.allCases.filter(\.percentEncodesPaths) == [.http, .https])
        #expect(FileProtocol.allCases.filter { !$0.carriesCredentials } == [.tftp])
        let checker = CredentialChecker(directories: [])
        let account = DirectoryAccount(path: "T23G_1", username: "user1", password: "secret1")
        let anonymous = { (wire: FileProtocol) in FileRequest(wire, path: "T23G_1/a.cfg", client: "192.0.2.9") }
        guard case .refused = checker.check(anonymous(.tftp), for: account),
              case .challenge = checker.check(anonymous(.http), for: account) else {
            Issue.record("TFTP must be refused and HTTP challenged")
            return
        }
        let other = FileRequest(.ftp, path: "T23G_1/a.cfg", client: "192.0.2.9",
                                credentials: .password(username: "phones", password: "pw"))
        for _ in 0..<6 {
            guard case .refused = checker.check(other, for: account) else { Issue.record("FTP's other account let in"); return }
        }
        // Not counted: the first real failure from that address is still not slowed down.
        #expect(checker.failed("192.0.2.9") == .zero)
    }

    @Test("Digest nonce counts (RFC 7616 §3.4): one request may be checked twice; another with the same count is a replay")
    func digestNonceCount() throws {
        let checker = CredentialChecker(directories: [])
        let account = DirectoryAccount(path: "T23G_1", username: "user1", password: "secret1")
        let first = checker.challenges(realm: account.path, stale: false)[0]
        let nonce = try #require(first.split(separator: "\"").dropFirst(5).first.map(String.init))
        #expect(nonce != checker.challenges(realm: account.path, stale: false)[0].split(separator: "\"").dropFirst(5).first.map(String.init))
        func request(count: String) throws -> FileRequest {
            let ha1 = md5("user1:T23G_1:secret1"), ha2 = md5("GET:/T23G_1/a.cfg")
            let response = md5("\(ha1):\(nonce):\(count):abc:auth:\(ha2)")
            let header = "username=\"user1\", realm=\"T23G_1\", uri=\"/T23G_1/a.cfg\", algorithm=MD5, nonce=\"\(nonce)\", "
                + "nc=\(count), cnonce=\"abc\", qop=auth, response=\"\(response)\""
            let digest = try #require(DigestResponse(header: header, method: "GET"))
            return FileRequest(.http, path: "/T23G_1/a.cfg", client: "192.0.2.1",
                               credentials: .digest(digest))
        }
        let one = try request(count: "00000001")
        guard case .granted = checker.check(one, for: account), case .granted = checker.check(one, for: account) else {
            Issue.record("a request checked twice was refused")
            return
        }
        guard case .challenge(_, stale: true) = checker.check(try request(count: "00000001"), for: account) else {
            Issue.record("a replayed count was accepted")
            return
        }
        guard case .granted = checker.check(try request(count: "00000002"), for: account) else {
            Issue.record("the next count was refused")
            return
        }
        guard case .challenge = checker.check(try request(count: "00000002"), for: account) else {
            Issue.record("the second count replayed was accepted")
            return
        }
    }
}

import Crypto
import ProvisioningCore

func sha256(_ text: String) -> String { Hex.encode(SHA256.hash(data: Data(text.utf8))) }
func md5(_ text: String) -> String { Hex.encode(Insecure.MD5.hash(data: Data(text.utf8))) }

