import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
#if os(Linux)
import CLinuxShims
#endif

/// The request log and the device registry: ``record(_:)`` only appends to memory; a thread of the log's own writes
/// the records in batches to its ``RequestLogStore`` (SQLite in the data folder, or the PostgreSQL several nodes
/// share), so logging never slows a transfer. While the store cannot be written, batches wait (up to a bound, the
/// rest counted as dropped) and are written once it is back.
public final class RequestLog: Service, Sendable {
    public let store: any RequestLogStore
    let pending = PerThread<[RequestRecord]> { [] }
    let logger: Logger
    /// How often pending records are written.
    public let flushInterval: Duration
    /// Fills in a record's device (MAC, model, firmware) before it is written.
    let identify: (@Sendable (inout RequestRecord) -> Void)?
    /// Told of each batch once its records are identified (on the writer's thread): the records, and their indices in
    /// time order. Handed over as they are, not copied: a batch can hold tens of thousands of records.
    let observe: (@Sendable (_ records: [RequestRecord], _ order: [Int]) -> Void)?

    /// The log kept in `store`.
    public init(store: any RequestLogStore, logger: Logger, flushInterval: Duration = .milliseconds(20),
                identify: (@Sendable (inout RequestRecord) -> Void)? = nil,
                observe: (@Sendable (_ records: [RequestRecord], _ order: [Int]) -> Void)? = nil) {
        self.store = store
        self.identify = identify
        self.observe = observe
        self.logger = logger
        self.flushInterval = flushInterval
    }

    /// The log in the SQLite database at `path` (created and migrated); `nil` for an in-memory database.
    public convenience init(path: String?, logger: Logger, flushInterval: Duration = .milliseconds(20),
                            identify: (@Sendable (inout RequestRecord) -> Void)? = nil,
                            observe: (@Sendable (_ records: [RequestRecord], _ order: [Int]) -> Void)? = nil) throws {
        self.init(store: try SQLiteRequestLog(path: path), logger: logger, flushInterval: flushInterval,
                  identify: identify, observe: observe)
    }

    /// The most records waiting in one shard; beyond it records are dropped and counted, so a load the disk
    /// cannot keep up with costs bounded memory.
    public static let maximumPendingPerShard = 50_000
    /// A shard keeps storage for this many records between writes (about 400 KB); a larger one, left by a burst, is
    /// given back once written.
    static let keptShardCapacity = 2_048
    /// Records dropped because the queue was full.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
    let droppedCount = Atomic<Int>(0)
    /// What failed writes left for the next (``flush(writingDevices:)``).
    let outage = Mutex(Outage())
    /// Requests waiting for a store that failed (read without waiting for a write in progress).
    public var retained: Int { retainedCount.load(ordering: .relaxed) }
    let retainedCount = Atomic<Int>(0)

    /// Queues a record; it is written within ``flushInterval``.
    public func record(_ record: RequestRecord) {
        let accepted = pending.withLock { records -> Bool in
            guard records.count < RequestLog.maximumPendingPerShard else { return false }
            records.append(record)
            return true
        }
        if !accepted { droppedCount.add(1, ordering: .relaxed) }
    }

    /// Device updates not yet written. Requests are written every ``flushInterval``; devices at most once per
    /// ``deviceWriteInterval`` (a second in SQLite): a fleet polling at full speed touches the same rows over and
    /// over, and one upsert per device per interval instead of one per request is what lets the log keep up with
    /// the HTTP fast path.
    let pendingDevices = Mutex<[String: DeviceUpdate]>([:])
    /// How often device updates are written: the store's own pace (``RequestLogStore/deviceWriteInterval``).
    var deviceWriteInterval: Double { store.deviceWriteInterval }


    public func run() async throws {
        // SQLite blocks, so the log has a thread of its own, never an event loop's.
        let (finished, done) = AsyncStream<Void>.makeStream()
        let thread = Thread { [self] in
            #if os(Linux)
            clinux_name_thread("autoprov-log")
            #endif
            let pause = UInt32(max(TimeAmount(flushInterval).nanoseconds / 1000, 1000))
            var lastDeviceWrite = ContinuousClock.now
            while !stopping.load(ordering: .acquiring) {
                usleep(pause)
                let now = ContinuousClock.now
                let writingDevices = now - lastDeviceWrite >= .seconds(deviceWriteInterval)
                if writingDevices { lastDeviceWrite = now }
                flushLogging(writingDevices: writingDevices)
            }
            // The last write, on this thread too: a store may block its caller (PostgreSQL's COPY waits for a task),
            // which must be no task's thread.
            flushLogging(now: true)
            done.finish()
        }
        thread.start()
        try? await gracefulShutdown()
        stopping.store(true, ordering: .releasing)
        for await _ in finished {}
        if retained > 0 {
            logger.error("request log: records the store did not take are lost at exit", metadata: ["records": "\(retained)"])
        }
    }

    private let stopping = Atomic<Bool>(false)

    /// Flushes, logging a failure instead of throwing.
    private func flushLogging(writingDevices: Bool = true, now: Bool = false) {
        do {
            try flush(writingDevices: writingDevices, now: now)
        } catch {
            logger.error("request log write failed; its records wait for the store", metadata: [
                "storage.error": "\(error)", "records": "\(retained)"])
        }
    }

    /// Devices seen, most recent first.
    public func devices() throws -> [DeviceRecord] { try store.devices() }

    /// One device, by its canonical MAC.
    public func device(mac: String) throws -> DeviceRecord? { try store.device(mac: mac) }

    /// Which phones the log has seen since when, and their firmware, at `now` (seconds since 1970): the console's fleet
    /// page (the device table alone; the request table is not scanned).
    public func activity(now: Double) throws -> FleetActivity { try store.activity(now: now) }

    /// The latest requests, newest first, optionally for one MAC, over one protocol, or since a time (seconds
    /// since 1970).
    public func requests(mac: String? = nil, protocolName: String? = nil, since: Double? = nil,
                         limit: Int = 50) throws -> [RequestRecord] {
        try store.requests(mac: mac, protocolName: protocolName, since: since, limit: limit)
    }
}
/// The fleet's activity as the request log tells it.
public struct FleetActivity: Sendable {
    /// Phones (by MAC) whose last request was in the last hour, day, or ever.
    public var seenLastHour = 0
    public var seenLastDay = 0
    public var seenEver = 0
    /// Firmware versions phones last reported, most used first (at most 20).
    public var firmware: [(version: String, phones: Int)] = []

    public init() {}
}
