import Foundation
import NIOCore
import ProvisioningCore
import Synchronization
import Testing
@testable import FileService

/// The file service in-process: a provisioning root and a data folder in a temporary folder, no sockets. Each
/// protocol's front-end maps these answers to its wire form; the wire tests are in AutoprovTests.
@Suite("File service in-process (S1, S2, S4, S5, R6.3)", .timeLimit(.minutes(2)))
struct FileServiceTests {
    /// A root with a common CFG file, a protected directory and a folder for uploads, and a service over it.
    final class Fixture {
        let folder: URL
        let root: URL
        var settings: FileService.Settings

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-files-\(UUID())")
            root = folder.appendingPathComponent("root")
            settings = FileService.Settings(root: root.path, data: folder.appendingPathComponent("data").path)
            try FileManager.default.createDirectory(at: root.appendingPathComponent("T23G_1"),
                                                    withIntermediateDirectories: true)
            try Data("#!version:1.0.0.1\naccount.1.enable = 1\n".utf8).write(to: root.appendingPathComponent("common.cfg"))
            try Data("#!version:1.0.0.1\n".utf8).write(to: root.appendingPathComponent("T23G_1/a.cfg"))
            try Data("hidden".utf8).write(to: root.appendingPathComponent(".secret"))
            try Data("outside".utf8).write(to: folder.appendingPathComponent("outside.cfg"))
            settings.directories = [DirectoryAccount(path: "T23G_1", username: "user1", password: "secret1")]
        }

        func service(prepare: FilePreparer? = nil) throws -> FileService {
            try FileService(settings: settings, log: nil, metrics: ServerMetrics(), prepare: prepare)
        }

        deinit { try? FileManager.default.removeItem(at: folder) }
    }

    static func contents(_ answer: ReadAnswer) -> String? {
        guard case .file(let file) = answer else { return nil }
        return String(buffer: file.contents)
    }

    @Test("S1: a file is read with its MD5 as ETag; a missing one is not found, on every protocol")
    func readAndMissing() async throws {
        let fixture = try Fixture()
        let service = try fixture.service()
        for wire in FileProtocol.allCases {
            let answer = await service.read(FileRequest(wire, path: "common.cfg", client: "192.0.2.1"))
            guard case .file(let file) = answer else { Issue.record("\(wire): \(answer)"); continue }
            #expect(String(buffer: file.contents) == "#!version:1.0.0.1\naccount.1.enable = 1\n")
            #expect(file.etag == "\"\(Provisioning.md5(Array(file.contents.readableBytesView)))\"")
            #expect(file.contentType == "text/plain")
            guard case .notFound = await service.read(FileRequest(wire, path: "y000000000000.boot", client: "192.0.2.1"))
            else { Issue.record("\(wire): a missing file was found"); continue }
        }
    }

    @Test("a fleet's files are kept in memory within [limits] file_cache_mb: past it the cache starts again, and every file still reads whole")
    func boundedCache() async throws {
        let fixture = try Fixture()
        fixture.settings.fileCacheBytes = 256 * 1024
        let service = try fixture.service()
        func contents(_ index: Int) -> String {
            "#!version:1.0.0.1\n" + (1...30).map { "account.\($0).label = phone-\(index)\n" }.joined()
        }
        for index in 0..<600 {
            try Data(contents(index).utf8).write(to: fixture.root.appendingPathComponent(String(format: "001565%06x.cfg", index)))
        }
        var most = 0
        for round in 0..<2 {
            for index in 0..<600 {
                let name = String(format: "001565%06x.cfg", index)
                let answer = await service.read(FileRequest(.http, path: "/" + name, client: "192.0.2.1"))
                #expect(Self.contents(answer) == contents(index), "round \(round), \(name)")
                most = max(most, service.cachedCost)
            }
        }
        // 600 files of about 1 KB cost over 1 MB kept; the budget held, and it was used.
        #expect(most <= 256 * 1024)
        #expect(most > 128 * 1024)
    }

    @Test("S2: parent segments, hidden names, percent-encoded escapes and links out are refused as forbidden",
          arguments: [(FileProtocol.tftp, "../outside.cfg"), (.tftp, ".secret"), (.ftp, "/../outside.cfg"),
                      (.http, "/%2e%2e/outside.cfg"), (.http, "/.versions/common.cfg"), (.https, "/a/../../outside.cfg"),
                      (.tftp, "link-out.cfg"), (.http, "/dir-out/outside.cfg")])
    func confinement(wire: FileProtocol, path: String) async throws {
        let fixture = try Fixture()
        try FileManager.default.createSymbolicLink(at: fixture.root.appendingPathComponent("link-out.cfg"),
                                                   withDestinationURL: fixture.folder.appendingPathComponent("outside.cfg"))
        try FileManager.default.createSymbolicLink(at: fixture.root.appendingPathComponent("dir-out"),
                                                   withDestinationURL: fixture.folder)
        let service = try fixture.service()
        let answer = await service.read(FileRequest(wire, path: path, client: "192.0.2.1"))
        guard case .forbidden = answer else { Issue.record("\(wire) \(path): \(answer)"); return }
    }

    @Test("S2: a link inside the root is followed, and leads to the protected directory's credentials (S5)")
    func linkInside() async throws {
        let fixture = try Fixture()
        try FileManager.default.createSymbolicLink(at: fixture.root.appendingPathComponent("alias.cfg"),
                                                   withDestinationURL: fixture.root.appendingPathComponent("common.cfg"))
        try FileManager.default.createSymbolicLink(at: fixture.root.appendingPathComponent("into.cfg"),
                                                   withDestinationURL: fixture.root.appendingPathComponent("T23G_1/a.cfg"))
        let service = try fixture.service()
        #expect(FileServiceTests.contents(await service.read(FileRequest(.tftp, path: "alias.cfg", client: "192.0.2.1")))
                    == "#!version:1.0.0.1\naccount.1.enable = 1\n")
        guard case .forbidden = await service.read(FileRequest(.tftp, path: "into.cfg", client: "192.0.2.1")) else {
            Issue.record("a link into a protected directory was read without its credentials")
            return
        }
    }

    @Test("S5: a protected directory is refused on TFTP, challenged on HTTP, opened by its account")
    func protectedDirectory() async throws {
        let fixture = try Fixture()
        let service = try fixture.service()
        guard case .forbidden = await service.read(FileRequest(.tftp, path: "T23G_1/a.cfg", client: "192.0.2.1")) else {
            Issue.record("TFTP read a protected file")
            return
        }
        guard case .unauthorized(let realm, _, _) = await service.read(
            FileRequest(.http, path: "/T23G_1/a.cfg", client: "192.0.2.1")) else {
            Issue.record("HTTP without credentials was not challenged")
            return
        }
        #expect(realm == "T23G_1")
        #expect(service.challenges(realm: realm, stale: false).contains { $0.hasPrefix("Digest ") })
        let granted = await service.read(FileRequest(.http, path: "/T23G_1/a.cfg", client: "192.0.2.1",
                                                     credentials: .password(username: "user1", password: "secret1")))
        #expect(FileServiceTests.contents(granted) == "#!version:1.0.0.1\n")
        let wrong = await service.read(FileRequest(.http, path: "/T23G_1/a.cfg", client: "192.0.2.1",
                                                   credentials: .password(username: "user1", password: "nope")))
        guard case .unauthorized = wrong else { Issue.record("a wrong password was not challenged: \(wrong)"); return }
    }

    @Test("S4: an allowed upload is stored and read back before the root's file; others are refused")
    func uploads() async throws {
        let fixture = try Fixture()
        fixture.settings.uploadMaximumBytes = 64
        let service = try fixture.service()
        let name = "00156574b150-local.cfg"
        try Data("#!version:1.0.0.1\nroot = 1\n".utf8).write(to: fixture.root.appendingPathComponent(name))
        let request = FileRequest(.tftp, path: name, client: "192.0.2.1")
        #expect(await service.write(request, contents: ByteBuffer(string: "#!version:1.0.0.1\nphone = 1\n")) == .replaced)
        #expect(FileServiceTests.contents(await service.read(request)) == "#!version:1.0.0.1\nphone = 1\n")
        // The file in the root is untouched; the upload lives in the data folder.
        #expect(try String(contentsOf: fixture.root.appendingPathComponent(name), encoding: .utf8)
                    == "#!version:1.0.0.1\nroot = 1\n")
        #expect(await service.write(FileRequest(.tftp, path: "evil-local.cfg", client: "192.0.2.1"),
                                    contents: ByteBuffer(string: "x")) == .forbidden("uploads of 'evil-local.cfg' are not allowed"))
        #expect(await service.write(FileRequest(.tftp, path: "00156574b151-local.cfg", client: "192.0.2.1"),
                                    contents: ByteBuffer(repeating: 0x41, count: 65)) == .tooLarge(limit: 64))
        guard case .forbidden = await service.write(FileRequest(.tftp, path: "../00156574b150-local.cfg",
                                                                client: "192.0.2.1"), contents: ByteBuffer(string: "x"))
        else { Issue.record("an upload outside the root was accepted"); return }
    }

    @Test("S3: a file changed on disk is served anew, with a new ETag, once its answer is due for a stat")
    func changeOnDisk() async throws {
        let fixture = try Fixture()
        // Answers are reused for `revalidateAfter` without a stat (a second by default); here every read checks.
        fixture.settings.revalidateAfter = .zero
        let service = try fixture.service()
        let request = FileRequest(.ftp, path: "common.cfg", client: "192.0.2.1")
        guard case .file(let before) = await service.read(request) else { Issue.record("not read"); return }
        try Data("#!version:1.0.0.1\naccount.1.enable = 0\nchanged = 1\n".utf8)
            .write(to: fixture.root.appendingPathComponent("common.cfg"))
        guard case .file(let after) = await service.read(request) else { Issue.record("not read"); return }
        #expect(String(buffer: after.contents) == "#!version:1.0.0.1\naccount.1.enable = 0\nchanged = 1\n")
        #expect(after.etag != before.etag)
    }

    @Test("S3, S4: within revalidate_after an answer is reused without a stat, but an upload is served at once, first or not")
    func reuseAndUpload() async throws {
        let fixture = try Fixture()
        fixture.settings.revalidateAfter = .seconds(3600)
        let service = try fixture.service()
        let name = "00156574b150-local.cfg"
        try Data("#!version:1.0.0.1\nroot = 1\n".utf8).write(to: fixture.root.appendingPathComponent(name))
        let request = FileRequest(.http, path: "/" + name, client: "192.0.2.1")
        #expect(FileServiceTests.contents(await service.read(request)) == "#!version:1.0.0.1\nroot = 1\n")
        try Data("#!version:1.0.0.1\nroot = 2, edited\n".utf8).write(to: fixture.root.appendingPathComponent(name))
        #expect(FileServiceTests.contents(await service.read(request)) == "#!version:1.0.0.1\nroot = 1\n")
        #expect(await service.write(FileRequest(.tftp, path: name, client: "192.0.2.1"),
                                    contents: ByteBuffer(string: "#!version:1.0.0.1\nphone = 1\n")) == .replaced)
        #expect(FileServiceTests.contents(await service.read(request)) == "#!version:1.0.0.1\nphone = 1\n")
        // A name with no file yet: its first upload is created (and leaves what other names' answers are remembered
        // alone); the next replaces it, and is what the next read returns although the first was remembered.
        let fresh = "00156574b151-local.cfg"
        let freshRequest = FileRequest(.http, path: "/" + fresh, client: "192.0.2.1")
        let generation = service.generation.load(ordering: .relaxed)
        #expect(await service.write(FileRequest(.tftp, path: fresh, client: "192.0.2.1"),
                                    contents: ByteBuffer(string: "#!version:1.0.0.1\nfirst = 1\n")) == .created)
        #expect(service.generation.load(ordering: .relaxed) == generation)
        #expect(FileServiceTests.contents(await service.read(freshRequest)) == "#!version:1.0.0.1\nfirst = 1\n")
        #expect(FileServiceTests.contents(await service.read(freshRequest)) == "#!version:1.0.0.1\nfirst = 1\n")
        #expect(await service.write(FileRequest(.tftp, path: fresh, client: "192.0.2.1"),
                                    contents: ByteBuffer(string: "#!version:1.0.0.1\nsecond = 1\n")) == .replaced)
        #expect(FileServiceTests.contents(await service.read(freshRequest)) == "#!version:1.0.0.1\nsecond = 1\n")
    }

    @Test("R6.3: with a common key, a common CFG goes out encrypted and <name>_Security.enc carries the key")
    func encryption() async throws {
        let fixture = try Fixture()
        let key = "0123456789abcdef"
        fixture.settings.encryptionCommonKey = key
        let service = try fixture.service()
        guard case .file(let served) = await service.read(FileRequest(.tftp, path: "common.cfg", client: "192.0.2.1")),
              case .file(let wrapped) = await service.read(FileRequest(.tftp, path: "common_Security.enc",
                                                                       client: "192.0.2.1"))
        else { Issue.record("not served"); return }
        let aes = try AESKey(key)
        #expect(try CompatibilityEncryption.key(fromSecurityFile: Array(wrapped.contents.readableBytesView)) == aes)
        let plain = try CompatibilityEncryption.decryptFile(Array(served.contents.readableBytesView), key: aes)
        #expect(String(decoding: plain, as: UTF8.self) == "#!version:1.0.0.1\naccount.1.enable = 1\n")
        // Without a key nothing is encrypted and there is no security file.
        let plainService = try Fixture().service()
        guard case .notFound = await plainService.read(FileRequest(.tftp, path: "common_Security.enc",
                                                                   client: "192.0.2.1"))
        else { Issue.record("a security file without encryption"); return }
    }

    @Test("the front-ends' hook prepares each loaded file once, and a cached file is not prepared again")
    func preparerHook() async throws {
        let fixture = try Fixture()
        let calls = Mutex<[Int]>([])
        let service = try fixture.service { facts in
            calls.withLock { $0.append(facts.size) }
            return ByteBuffer(string: "prepared \(facts.etag)")
        }
        let request = FileRequest(.http, path: "/common.cfg", client: "192.0.2.1")
        for _ in 0..<3 {
            guard case .file(let file) = await service.read(request) else { Issue.record("not read"); return }
            #expect(file.prepared.map { String(buffer: $0) } == "prepared \(file.etag)")
            #expect(file.md5 == Provisioning.md5(Array(file.contents.readableBytesView)))
        }
        #expect(calls.withLock { $0 } == [39])
    }
}

/// The words every front-end records (request log, `/metrics` labels): derived once from the file service's answer.
@Suite("Request results: one set of words for every protocol", .timeLimit(.minutes(2)))
struct RequestResultTests {
    @Test("reads and writes map to the same words on every protocol; the words stay what the log already holds")
    func words() {
        #expect(RequestResult(ReadAnswer.notFound) == .notFound)
        #expect(RequestResult(ReadAnswer.forbidden("S2")) == .forbidden)
        #expect(RequestResult(ReadAnswer.unauthorized(realm: "T23G_1", delay: .zero, stale: false)) == .unauthorized)
        #expect(RequestResult(WriteAnswer.created) == .stored && RequestResult(WriteAnswer.replaced) == .stored)
        #expect(RequestResult(WriteAnswer.tooLarge(limit: 1)) == .tooLarge)
        #expect(RequestResult(WriteAnswer.failed("disk full")) == .failed)
        #expect(RequestResult.allCases.map(\.rawValue) == [
            "ok", "stored", "listed", "not-modified", "bad-range", "metrics", "not-found", "forbidden", "unauthorized",
            "too-large", "bad-method", "refused", "failed",
        ])
    }
}
