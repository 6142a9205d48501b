import NIOPosix
import Synchronization

/// Gathers the uploads that arrive while a batch is being stored and stores them as the next batch (a group commit,
/// ``UploadStore/store(_:)``): one upload alone is stored at once; during a storm, every upload waits at most for
/// the batch ahead of it, and a batch of any size costs two flushes to the disk. Batches run one at a time on the
/// shared thread pool, never on a loop.
final class UploadCommitter: Sendable {
    private struct Waiting {
        var bytes: [UInt8]
        var path: String
        var stored: @Sendable (Result<Bool, Error>) -> Void
    }

    private let store: UploadStore
    private let state = Mutex<(waiting: [Waiting], storing: Bool)>(([], false))
    /// The most uploads in one batch (their bytes are in memory together).
    static let largestBatch = 512

    init(store: UploadStore) {
        self.store = store
    }

    /// Stores `bytes` as the new version of `path`; returns once it is on the disk and published, saying whether it
    /// replaced an earlier upload.
    @discardableResult
    func commit(_ bytes: [UInt8], at path: String) async throws -> Bool {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, Error>) in
            commit(bytes, at: path) { continuation.resume(with: $0) }
        }
    }

    /// Stores `bytes` as the new version of `path`; `stored` hears the outcome (whether it replaced an earlier
    /// upload), on the thread that stored it.
    func commit(_ bytes: [UInt8], at path: String, stored: @escaping @Sendable (Result<Bool, Error>) -> Void) {
        let start = state.withLock { state -> Bool in
            state.waiting.append(Waiting(bytes: bytes, path: path, stored: stored))
            guard !state.storing else { return false }
            state.storing = true
            return true
        }
        if start { NIOThreadPool.singleton.submit { _ in self.storeWaiting() } }
    }

    /// Stores batches until none is waiting.
    private func storeWaiting() {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                guard !state.waiting.isEmpty else {
                    state.storing = false
                    return []
                }
                let taken = Array(state.waiting.prefix(UploadCommitter.largestBatch))
                state.waiting.removeFirst(taken.count)
                return taken
            }
            guard !batch.isEmpty else { return }
            let results = store.store(batch.map { ($0.bytes, $0.path) })
            for (waiting, result) in zip(batch, results) { waiting.stored(result) }
        }
    }
}
