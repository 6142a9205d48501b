import Foundation
import Synchronization
#if os(Linux)
import CLinuxShims
#endif

/// Writing the queued records: requests in batches, devices merged and upserted at most once a second.
extension RequestLog {
    /// Writes every queued record now: the requests, then one upsert per device seen in the batch.
    public func flush() throws {
        try flush(writingDevices: true, now: true)
    }

    /// What a failed write left, kept for the next one (only the writer touches it).
    struct Outage {
        /// Requests not written yet, oldest first: written before anything newer.
        var retained: [RequestRecord] = []
        /// Writes failed in a row; the next is tried at `retryAt`, the wait doubling up to a bound.
        var failures = 0
        var retryAt: ContinuousClock.Instant?
    }

    /// The most requests kept while the store cannot be written; later ones are dropped and counted.
    public static let maximumRetained = 200_000
    /// The longest wait between two tries of a store that failed.
    static let longestRetry: Duration = .seconds(30)

    /// Writes the queued requests, and the device updates when `writingDevices`. While the store fails, the requests
    /// and device updates wait, in order, and are written once it is back; tries are spaced out (a second, doubling
    /// up to ``longestRetry``; `now`: try at once). Throws the store's error when a try failed.
    func flush(writingDevices: Bool, now: Bool = false) throws {
        try outage.withLock { outage in
            defer { retainedCount.store(outage.retained.count, ordering: .relaxed) }
            try flush(writingDevices: writingDevices, now: now, outage: &outage)
        }
    }

    private func flush(writingDevices: Bool, now: Bool, outage: inout Outage) throws {
        // Each shard's records are taken, not copied, when they are most of the batch: a log that fell behind holds
        // tens of thousands of records, and a copy of them doubled the server's peak memory. A shard keeps its
        // storage only when it is small, so a burst's storage is given back once written.
        var batch: [RequestRecord] = []
        pending.forEach { records in
            if batch.isEmpty, records.count > RequestLog.keptShardCapacity {
                swap(&batch, &records)
            } else {
                batch += records
                records.removeAll(keepingCapacity: records.capacity <= RequestLog.keptShardCapacity)
            }
        }
        guard !batch.isEmpty || writingDevices || !outage.retained.isEmpty else { return }
        // Written in time order across shards; sorting indices moves no strings.
        var order = batch.indices.sorted { batch[$0].time < batch[$1].time }
        if let identify {
            // Called for every record: remembering identities by (protocol, path, User-Agent) cost more in
            // hashing and comparing than identifying again.
            var pacer = Pacer(work: batch.count)
            for index in batch.indices where batch[index].mac == nil {
                pacer.step()
                identify(&batch[index])
            }
        }
        if let observe, !batch.isEmpty { observe(batch, order) }
        let devices = pendingDevices.withLock { pending -> [String: DeviceUpdate] in
            for index in order {
                guard let mac = batch[index].mac else { continue }
                // Updated in place: copying records (a dozen reference counts each) was most of this loop's cost.
                let found = pending.index(forKey: mac)
                if let found {
                    pending.values[found].lastTime = batch[index].time
                    pending.values[found].client = batch[index].client
                    pending.values[found].path = batch[index].path
                    pending.values[found].result = batch[index].result
                    if let model = batch[index].model { pending.values[found].model = model }
                    if let firmware = batch[index].firmware { pending.values[found].firmware = firmware }
                } else {
                    pending[mac] = DeviceUpdate(
                        firstTime: batch[index].time, lastTime: batch[index].time, client: batch[index].client,
                        path: batch[index].path, result: batch[index].result, model: batch[index].model,
                        firmware: batch[index].firmware)
                }
            }
            guard writingDevices else { return [:] }
            defer { pending.removeAll() }
            return pending
        }
        if !outage.retained.isEmpty {
            let earlier = outage.retained.count
            order = Array(0..<earlier) + order.map { $0 + earlier }
            batch = outage.retained + batch
            outage.retained = []
        }
        if !now, let retryAt = outage.retryAt, ContinuousClock.now < retryAt {
            return retain(batch, order: order, devices: devices, in: &outage)
        }
        do {
            try store.write(requests: batch, order: order, devices: devices)
        } catch {
            retain(batch, order: order, devices: devices, in: &outage)
            outage.failures += 1
            let wait = min(Duration.seconds(1 << min(outage.failures - 1, 5)), RequestLog.longestRetry)
            outage.retryAt = ContinuousClock.now + wait
            throw error
        }
        if outage.failures > 0 {
            logger.notice("request log: the store is written again", metadata: [
                "records": "\(batch.count)", "failed.tries": "\(outage.failures)"])
            outage.failures = 0
            outage.retryAt = nil
        }
    }

    /// Keeps what a write could not store for the next one: the requests in order (up to ``maximumRetained``, the rest
    /// dropped and counted), the device updates merged back under any newer ones.
    private func retain(_ batch: [RequestRecord], order: [Int], devices: [String: DeviceUpdate],
                        in outage: inout Outage) {
        let kept = order.prefix(RequestLog.maximumRetained)
        outage.retained = kept.map { batch[$0] }
        if kept.count < order.count { droppedCount.add(order.count - kept.count, ordering: .relaxed) }
        guard !devices.isEmpty else { return }
        pendingDevices.withLock { pending in
            for (mac, earlier) in devices {
                guard var later = pending[mac] else {
                    pending[mac] = earlier
                    continue
                }
                later.firstTime = min(later.firstTime, earlier.firstTime)
                later.model = later.model ?? earlier.model
                later.firmware = later.firmware ?? earlier.firmware
                pending[mac] = later
            }
        }
    }

    /// Gives the core up now and then during a long piece of work. A full batch is milliseconds of work, and the
    /// devices' write once a second tens of milliseconds; a thread that holds a core that long delays every request
    /// waiting for that core. Each yield can cost the log a scheduler slice, so a piece of work yields a bounded
    /// number of times however large it is, and the log keeps up when it falls behind.
    struct Pacer {
        static let smallestStride = 128
        static let mostYields = 8
        let stride: Int
        var count = 0

        init(work: Int) {
            stride = max(Pacer.smallestStride, work / Pacer.mostYields)
        }

        @inline(__always)
        mutating func step() {
            count += 1
            if count == stride {
                count = 0
                sched_yield()
            }
        }
    }
}
