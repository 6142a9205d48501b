import Foundation
import Synchronization
import Testing
@testable import FileService

@Suite("Upload journal: a batch durable with one flush, and what a power loss kept from the disk put back (S4)",
       .timeLimit(.minutes(2)))
struct UploadJournalTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-journal-\(UUID())")
    }

    static func bytes(_ text: String) -> [UInt8] { Array("#!version:1.0.0.1\n\(text)\n".utf8) }

    /// An upload store in `directory` with a journal that no checkpoint empties, and its committer.
    static func journaled(in directory: URL) throws -> (UploadStore, UploadJournal, UploadCommitter) {
        let store = UploadStore(directory: directory)
        let journal = try UploadJournal(uploads: directory, segmentAge: .seconds(3600))
        return (store, journal, UploadCommitter(store: store, journal: journal))
    }

    /// Commits each upload in turn, waiting for each (so that each is a batch of its own, in this order).
    static func commit(_ committer: UploadCommitter, _ uploads: [(String, [UInt8])]) throws {
        for (path, bytes) in uploads {
            let done = DispatchSemaphore(value: 0)
            let outcome = Mutex<Result<Bool, Error>?>(nil)
            committer.commit(bytes, at: path) { result in
                outcome.withLock { $0 = result }
                done.signal()
            }
            try #require(done.wait(timeout: .now() + 30) == .success, "the commit of \(path) never finished")
            _ = try outcome.withLock { $0 }?.get()
        }
    }

    @Test("records read back as written; a torn or damaged record ends a segment, the ones before it stand")
    func format() {
        let records = [
            UploadJournal.Record(time: 1.5, path: "001565000001-local.cfg", bytes: Self.bytes("a = 1"), previous: nil),
            UploadJournal.Record(time: 2.5, path: "sub/001565000002-local.cfg", bytes: [], previous: Self.bytes("old")),
            UploadJournal.Record(time: 3.5, path: "001565000001-local.cfg", bytes: Self.bytes("a = 2"),
                                 previous: Self.bytes("a = 1")),
        ]
        var buffer: [UInt8] = []
        for record in records { UploadJournal.encode(record, into: &buffer) }
        #expect(UploadJournal.decode(buffer) == records)
        // A crash in the middle of the last record's write: the two before it.
        #expect(UploadJournal.decode(Array(buffer.dropLast(5))) == Array(records.prefix(2)))
        // A byte of the second record changed: only the first.
        var damaged = buffer
        let second = buffer.count / 2
        damaged[second] ^= 0x40
        #expect(UploadJournal.decode(damaged).count < 3)
        #expect(UploadJournal.decode(damaged).first == records[0])
        #expect(UploadJournal.decode([]) == [])
        #expect(UploadJournal.decode(Array("APJ1 and then nothing of the rest".utf8)) == [])
    }

    @Test("a batch journaled costs one flush, and its files are published whole, each under its own name")
    func journaledBatches() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (store, journal, committer) = try Self.journaled(in: directory)
        let stored = DispatchGroup()
        let failures = Mutex<[Error]>([])
        for index in 0..<300 {
            stored.enter()
            committer.commit(Self.bytes("account.1.label = \(index)"), at: "d\(index % 3)/\(index)-local.cfg") { result in
                if case .failure(let error) = result { failures.withLock { $0.append(error) } }
                stored.leave()
            }
        }
        try #require(stored.wait(timeout: .now() + 60) == .success, "the commits never all finished")
        if let failure = failures.withLock({ $0.first }) { throw failure }
        for index in 0..<300 {
            #expect(store.current("d\(index % 3)/\(index)-local.cfg") == Self.bytes("account.1.label = \(index)"))
        }
        #expect(committer.flushes.load(ordering: .relaxed) == committer.batches.load(ordering: .relaxed))
        // All 300 are in the journal (no checkpoint yet), which the upload listing does not show.
        let segments = UploadJournal.segments(in: journal.directory)
        let journaled = segments.flatMap { UploadJournal.decode(Array(FileManager.default.contents(atPath: $0.path)!)) }
        #expect(journaled.count == 300)
        #expect(try store.paths().count == 300)
    }

    @Test("an upload over 256 KiB is flushed in place, not journaled (its bytes and its previous version would be written twice and held thrice); small ones beside it still are")
    func largeUploadsNotJournaled() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (store, journal, committer) = try Self.journaled(in: directory)
        let large = [UInt8](repeating: 0x61, count: UploadJournal.largestJournaled + 1)
        let larger = [UInt8](repeating: 0x62, count: UploadJournal.largestJournaled * 2)
        try Self.commit(committer, [("big-local.cfg", large), ("big-local.cfg", larger),
                                    ("small-local.cfg", Self.bytes("a = 1"))])
        #expect(store.current("big-local.cfg") == larger)
        #expect(store.versions(of: "big-local.cfg").map { Array(FileManager.default.contents(atPath: $0.url.path)!) } == [large, larger])
        let journaled = UploadJournal.segments(in: journal.directory)
            .flatMap { UploadJournal.decode(Array(FileManager.default.contents(atPath: $0.path)!)) }
        #expect(journaled.map(\.path) == ["small-local.cfg"])
    }

    @Test("after a power loss: a current file torn or gone, a rename lost, a kept version lost; all put back from the journal, then the journal dropped")
    func recovery() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = UploadStore(directory: directory)
        let (a1, a2, a3, b1, c1, c2) = (Self.bytes("a = 1"), Self.bytes("a = 2"), Self.bytes("a = 3"),
                                        Self.bytes("b = 1"), Self.bytes("c = 1"), Self.bytes("c = 2"))
        try store.store(a1, at: "a-local.cfg")  // before the journal: on the disk for certain
        do {
            let committer = UploadCommitter(store: store, journal: try UploadJournal(uploads: directory,
                                                                                      segmentAge: .seconds(3600)))
            try Self.commit(committer, [("a-local.cfg", a2), ("b/b-local.cfg", b1), ("a-local.cfg", a3),
                                        ("c-local.cfg", c1), ("c-local.cfg", c2)])
        }
        #expect(store.versions(of: "a-local.cfg").count == 3)
        // What the disk could hold after a power loss, the uploads' own writes never flushed: a's last write torn
        // (empty) and its kept versions gone, b never there, c's last rename lost (c1 still current, no version).
        let target = store.url(for: "a-local.cfg")
        try Data().write(to: target)
        try FileManager.default.removeItem(at: directory.appendingPathComponent(".versions/a-local.cfg"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("b"))
        try Data(c1).write(to: store.url(for: "c-local.cfg"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent(".versions/c-local.cfg"))

        let recovery = try UploadJournal.recover(into: store)
        #expect(recovery == UploadJournal.Recovery(restored: 3, versionsRestored: 3, records: 5))
        #expect(store.current("a-local.cfg") == a3)
        #expect(try store.history(of: "a-local.cfg").map(\.bytes) == [a1, a2, a3])
        #expect(store.current("b/b-local.cfg") == b1)
        #expect(try store.history(of: "c-local.cfg").map(\.bytes) == [c1, c2])
        #expect(UploadJournal.segments(in: directory.appendingPathComponent(".journal")).isEmpty)
        // Nothing lost is nothing to do: a second recovery finds no journal, and the upload listing is as it was.
        #expect(try UploadJournal.recover(into: store) == UploadJournal.Recovery())
        #expect(try store.paths() == ["a-local.cfg", "b/b-local.cfg", "c-local.cfg"])
    }

    @Test("a recovery with nothing lost changes nothing: the same files, the same history, no version twice")
    func recoveryOfWholeState() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = UploadStore(directory: directory)
        let committer = UploadCommitter(store: store, journal: try UploadJournal(uploads: directory,
                                                                                  segmentAge: .seconds(3600)))
        try Self.commit(committer, [("a-local.cfg", Self.bytes("a = 1")), ("a-local.cfg", Self.bytes("a = 2")),
                                    ("a-local.cfg", Self.bytes("a = 3"))])
        let before = try store.history(of: "a-local.cfg")
        #expect(try UploadJournal.recover(into: store) == UploadJournal.Recovery(records: 3))
        #expect(try store.history(of: "a-local.cfg") == before)
    }

    @Test("a checkpoint flushes the folder once and drops the journal written before it; uploads go on meanwhile")
    func checkpoint() throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = UploadStore(directory: directory)
        let journal = try UploadJournal(uploads: directory, segmentAge: .zero)
        let committer = UploadCommitter(store: store, journal: journal)
        try Self.commit(committer, [("a-local.cfg", Self.bytes("a = 1"))])
        let deadline = ContinuousClock.now + .seconds(60)
        while journal.checkpoints.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(journal.checkpoints.load(ordering: .relaxed) == 1)
        #expect(UploadJournal.segments(in: journal.directory).isEmpty)
        try Self.commit(committer, [("a-local.cfg", Self.bytes("a = 2"))])
        #expect(store.current("a-local.cfg") == Self.bytes("a = 2"))
        #expect(try store.history(of: "a-local.cfg").count == 2)
    }
}
