import Foundation
import NIOCore
import NIOPosix
import Storage
import Synchronization

/// Gathers the uploads that arrive while a batch is being stored and stores them as the next batch (a group commit,
/// ``UploadStore/store(_:)``; with a ``UploadJournal``, the batch is durable with one flush of the journal, and
/// what follows here about flushes is the path without one): one upload alone is stored at once; during a storm, every upload waits at most for
/// the batch ahead of it, and a batch of any size costs two flushes to the disk (one during a storm). Batches run one at a time on the
/// shared thread pool, never on a loop.
final class UploadCommitter: Sendable {
    private struct Waiting {
        /// The upload as it was received, not copied: a 16 MiB upload held twice took 16 MiB more at its peak.
        var bytes: ByteBuffer
        var path: String
        var stored: @Sendable (Result<Bool, Error>) -> Void
    }

    private let store: UploadStore
    /// Where a batch is stored first when several nodes share uploads: published here only once stored there.
    private let shared: (any SharedUploadStore)?
    /// Held from a batch's storing in the shared store to its publishing here, and by each copy of another node's
    /// upload (``FileService/copySharedUpload(_:)``): a copy made while this node's own upload of the same name was
    /// between the two would be overwritten by the older bytes, and stay so.
    let sharedOrder = NSLock()
    private let state = Mutex<(waiting: [Waiting], storing: Bool)>(([], false))
    /// The most uploads in one batch (their bytes are in memory together).
    static let largestBatch = 512

    /// Where a batch is made durable with one flush (``UploadJournal``); without one, each file is flushed.
    let journal: UploadJournal?

    init(store: UploadStore, shared: (any SharedUploadStore)? = nil, journal: UploadJournal? = nil) {
        self.store = store
        self.shared = shared
        self.journal = journal
    }

    /// Stores `bytes` as the new version of `path`; returns once it is on the disk and published, saying whether it
    /// replaced an earlier upload.
    @discardableResult
    func commit(_ bytes: ByteBuffer, at path: String) async throws -> Bool {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, Error>) in
            commit(bytes, at: path) { continuation.resume(with: $0) }
        }
    }

    /// Stores `bytes` as the new version of `path`; `stored` hears the outcome (whether it replaced an earlier
    /// upload), on the thread that stored it.
    func commit(_ bytes: ByteBuffer, at path: String, stored: @escaping @Sendable (Result<Bool, Error>) -> Void) {
        let start = state.withLock { state -> Bool in
            state.waiting.append(Waiting(bytes: bytes, path: path, stored: stored))
            guard !state.storing else { return false }
            state.storing = true
            return true
        }
        if start { NIOThreadPool.singleton.submit { _ in self.storeWaiting() } }
    }

    /// ``commit(_:at:stored:)`` for bytes held in an array (copied once).
    func commit(_ bytes: [UInt8], at path: String, stored: @escaping @Sendable (Result<Bool, Error>) -> Void) {
        commit(ByteBuffer(bytes: bytes), at: path, stored: stored)
    }

    /// Flushes to the disk so far (each batch's, and one when the queue runs dry), and batches stored.
    let flushes = Atomic<Int>(0)
    let batches = Atomic<Int>(0)

    /// Stores batches until none is waiting. A batch's renames are made durable by the next batch's flush, which
    /// flushes their directories with its own files: during a storm, a batch costs one flush, not two. An upload is
    /// answered only once its rename is durable.
    private func storeWaiting() {
        // A batch renamed into place whose directories no flush has covered yet, and its results.
        var unflushed: (batch: [Waiting], published: UploadStore.Published)?
        while true {
            let mayStop = unflushed == nil
            let batch = state.withLock { state -> [Waiting] in
                guard !state.waiting.isEmpty else {
                    if mayStop { state.storing = false }
                    return []
                }
                let taken = Array(state.waiting.prefix(UploadCommitter.largestBatch))
                state.waiting.removeFirst(taken.count)
                return taken
            }
            guard !batch.isEmpty else {
                guard let (done, published) = unflushed else { return }
                flushDirectories(published)
                answer(done, published.results)
                unflushed = nil
                continue
            }
            batches.add(1, ordering: .relaxed)
            if let journal {
                storeJournaled(batch, journal)
                continue
            }
            var staged = store.stage(batch.map { ($0.bytes, $0.path) })
            let earlier = unflushed?.published.directories ?? []
            if !staged.files.isEmpty || !earlier.isEmpty { flushes.add(1, ordering: .relaxed) }
            store.flush(&staged, alsoDirectories: earlier)
            if let (done, published) = unflushed {
                answer(done, published.results)
                unflushed = nil
            }
            if let shared {
                unflushed = sharedOrder.withLock {
                    share(&staged, batch, shared)
                    return (batch, store.publish(staged))
                }
            } else {
                unflushed = (batch, store.publish(staged))
            }
        }
    }

    /// A batch with the journal: written to temporary files, stored in the shared store if there is one, journaled
    /// (one flush), renamed into place and answered. When the journal cannot be written (a full disk), each file is
    /// flushed instead, as without one.
    private func storeJournaled(_ batch: [Waiting], _ journal: UploadJournal) {
        var staged = store.stage(batch.map { ($0.bytes, $0.path) })
        let published: UploadStore.Published
        if let shared {
            published = sharedOrder.withLock {
                let descriptors = staged.files.map(\.descriptor)
                share(&staged, batch, shared)
                if staged.files.isEmpty { for descriptor in descriptors { close(descriptor) } }  // refused, unlinked
                return journalAndPublish(&staged, batch, journal)
            }
        } else {
            published = journalAndPublish(&staged, batch, journal)
        }
        answer(batch, published.results)
        journal.checkpointIfDue()
    }

    private func journalAndPublish(_ staged: inout UploadStore.Staged, _ batch: [Waiting],
                                   _ journal: UploadJournal) -> UploadStore.Published {
        guard !staged.files.isEmpty else { return UploadStore.Published(results: staged.results, directories: []) }
        // A large upload is flushed where it is: journaled, its bytes and the version it replaces would be written
        // twice and held in memory three times over (a 16 MiB upload took 49 MB more), to spare one flush that
        // costs little beside writing it.
        guard !staged.files.contains(where: { batch[$0.index].bytes.readableBytes > UploadJournal.largestJournaled }) else {
            return flushAndPublish(&staged)
        }
        // Each upload with the version it replaces: the one on the disk, or the one before it in this batch.
        var latest: [String: [UInt8]] = [:]
        let now = Date().timeIntervalSince1970
        let records = staged.files.map { file -> UploadJournal.Record in
            let bytes = Array(batch[file.index].bytes.readableBytesView)
            let previous = latest[file.path] ?? store.current(file.path)
            latest[file.path] = bytes
            return UploadJournal.Record(time: now, path: file.path, bytes: bytes, previous: previous)
        }
        do {
            try journal.append(records)
            flushes.add(1, ordering: .relaxed)
        } catch {
            return flushAndPublish(&staged)
        }
        for file in staged.files { close(file.descriptor) }
        return store.publish(staged)
    }

    /// Without the journal: each file flushed, renamed into place, and its directory flushed.
    private func flushAndPublish(_ staged: inout UploadStore.Staged) -> UploadStore.Published {
        store.flush(&staged, alsoDirectories: [])
        flushes.add(1, ordering: .relaxed)
        let published = store.publish(staged)
        flushDirectories(published)
        return published
    }

    /// Stores the batch's files in the shared store, all in one transaction; when that fails, none is published here
    /// either (their temporary files removed): no node serves what the others cannot.
    private func share(_ staged: inout UploadStore.Staged, _ batch: [Waiting], _ shared: any SharedUploadStore) {
        guard !staged.files.isEmpty else { return }
        do {
            try shared.store(staged.files.map { (batch[$0.index].path, Array(batch[$0.index].bytes.readableBytesView)) })
        } catch {
            for file in staged.files {
                unlink(file.temporary)
                staged.results[file.index] = .failure(error)
            }
            staged.files = []
        }
    }

    private func flushDirectories(_ published: UploadStore.Published) {
        guard !published.directories.isEmpty else { return }
        store.flushDirectories(published.directories)
        flushes.add(1, ordering: .relaxed)
    }

    private func answer(_ batch: [Waiting], _ results: [Result<Bool, Error>]) {
        for (waiting, result) in zip(batch, results) { waiting.stored(result) }
    }
}
