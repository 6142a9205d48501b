import Foundation
@testable import PostgresStore
import Storage
import TestSupport
import Testing

/// Phones' uploads in PostgreSQL (issue 17): what one node stores, every node reads and hears of.
@Suite("Uploads shared in PostgreSQL", .serialized, .timeLimit(.minutes(3)))
struct PostgresUploadsTests {
    static func open() throws -> OpenedStore<PostgresUploads> {
        try OpenedStore(.postgresql, name: "uploads") { try PostgresUploads(try $0.postgres()) }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("a batch is stored whole; every node reads each path's latest bytes and its MD5; earlier versions are kept up to the limit")
    func storeAndRead() async throws {
        try await withScratch(Self.open) { opened in
            let (a, b) = (opened.store, try opened.another())
            #expect(try b.current("00156574b150-local.cfg") == nil)
            try a.store([("00156574b150-local.cfg", Self.bytes("one\n")), ("T46S/00156574b151-local.cfg", Self.bytes("two\n")),
                         ("00156574b150-local.cfg", Self.bytes("three\n"))])
            // Within a batch, the later upload of a name is its current version.
            #expect(try b.current("00156574b150-local.cfg") == Self.bytes("three\n"))
            #expect(try b.current("T46S/00156574b151-local.cfg") == Self.bytes("two\n"))
            // As md5sum prints them.
            #expect(try b.digests() == ["00156574b150-local.cfg": "febe6995bad457991331348f7b9c85fa",
                                        "T46S/00156574b151-local.cfg": "c193497a1a06b2c72230e6146ff47080"])
            for index in 0..<20 { try a.store([("00156574b150-local.cfg", Self.bytes("v\(index)\n"))]) }
            #expect(try b.current("00156574b150-local.cfg") == Self.bytes("v19\n"))
            let kept = try opened.scratch.postgres().withConnection { connection in
                try connection.query("SELECT count(*) FROM upload WHERE path = '00156574b150-local.cfg'",
                                     logger: a.logger).waited().rows.first!.decode(Int.self)
            }
            #expect(kept == a.keptVersions + 1)
            // Oldest first, each earlier one dated by its replacement, the current one last; any node reads them.
            let history = try b.history(of: "00156574b150-local.cfg")
            #expect(history.map(\.bytes) == (9..<20).map { Self.bytes("v\($0)\n") })
            #expect(history.last?.id == "current" && history.dropLast().allSatisfy { Int($0.id) != nil })
            #expect(history.map(\.time) == history.map(\.time).sorted())
            #expect(try b.history(of: "never-local.cfg").isEmpty)
        }
    }

    @Test("another node hears a nil when it connects (compare every path), then each path once its batch commits; nothing of a batch rolled back")
    func changes() async throws {
        let opened = try await onOwnThread { try Self.open() }
        var heard = try opened.another().changes().makeAsyncIterator()
        #expect(await heard.next() == .some(nil))
        try await onOwnThread { try opened.store.store([("00156574b150-local.cfg", Self.bytes("one\n"))]) }
        #expect(await heard.next() == .some("00156574b150-local.cfg"))
        // A batch that fails (a path PostgreSQL cannot hold: a NUL) stores nothing and announces nothing.
        #expect(throws: (any Error).self) {
            try opened.store.store([("00156574b151-local.cfg", Self.bytes("two\n")), ("bad\u{0}-local.cfg", [])])
        }
        #expect(try opened.store.current("00156574b151-local.cfg") == nil)
        try await onOwnThread { try opened.store.store([("00156574b152-local.cfg", Self.bytes("three\n"))]) }
        #expect(await heard.next() == .some("00156574b152-local.cfg"))
    }
}
