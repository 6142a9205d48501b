import Foundation
import Testing
@testable import FileService

@Suite("Upload store: atomic versions (S4)", .timeLimit(.minutes(2)))
struct UploadStoreTests {
    struct Crash: Error {}

    @Test("a crash between the write and the rename leaves the previous version whole; readers never see a mix")
    func crashBeforeRename() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-uploads-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        var store = UploadStore(directory: directory)
        let before = Array("#!version:1.0.0.1\naccount.1.label = before\n".utf8)
        let after = [UInt8](repeating: UInt8(ascii: "x"), count: 3_000_000)
        try store.store(before, at: "00156574b150-local.cfg")
        let target = store.url(for: "00156574b150-local.cfg")
        let seen = SeenAtCrash()
        store.beforeRename = { temporary in
            // The new bytes are all on disk, under another name; the published file is still the old one.
            seen.temporary = try Array(Data(contentsOf: temporary))
            seen.published = try Array(Data(contentsOf: target))
            throw Crash()
        }
        #expect(throws: Crash.self) { try store.store(after, at: "00156574b150-local.cfg") }
        #expect(seen.temporary == after)
        #expect(seen.published == before)
        #expect(try Array(Data(contentsOf: target)) == before)
        // What a crash leaves is a hidden temporary file beside it, never the file itself half written.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(names.filter { !$0.hasPrefix(".") } == ["00156574b150-local.cfg"], "\(names)")
        // Without the crash the next upload is published whole, and the one before it kept.
        store.beforeRename = nil
        try store.store(after, at: "00156574b150-local.cfg")
        #expect(try Array(Data(contentsOf: target)) == after)
        let versions = try FileManager.default.contentsOfDirectory(
            atPath: directory.appendingPathComponent(".versions/00156574b150-local.cfg").path)
        #expect(versions.count == 1)
    }

    final class SeenAtCrash: @unchecked Sendable {
        var temporary: [UInt8] = []
        var published: [UInt8] = []
    }
}
