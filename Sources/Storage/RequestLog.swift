import Foundation
import GRDB
import GRDBSQLite
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
#if os(Linux)
import CLinuxShims
#endif

public final class RequestLog: Service, Sendable {
    let database: DatabaseQueue
    let pending = PerThread<[RequestRecord]> { [] }
    let logger: Logger
    /// How often pending records are written.
    public let flushInterval: Duration
    /// Fills in a record's device (MAC, model, firmware) before it is written.
    let identify: (@Sendable (inout RequestRecord) -> Void)?
    /// Told of each batch's records that name a device or a model, once identified (on the writer's thread).
    let observe: (@Sendable ([RequestRecord]) -> Void)?

    /// Opens (creating and migrating) the database at `path`; `nil` for an in-memory database.
    public init(path: String?, logger: Logger, flushInterval: Duration = .milliseconds(20),
                identify: (@Sendable (inout RequestRecord) -> Void)? = nil,
                observe: (@Sendable ([RequestRecord]) -> Void)? = nil) throws {
        self.identify = identify
        self.observe = observe
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync: a crash loses at most the last batches, never the file; far fewer fsyncs.
            try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192")
        }
        if let path {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
        } else {
            database = try DatabaseQueue(configuration: configuration)
        }
        self.logger = logger
        self.flushInterval = flushInterval
        try RequestLog.migrator.migrate(database)
    }

    /// The request table's columns after its key, as version 1 made them (version 2 added `certificate`).
    private static func addRequestColumns(_ t: TableDefinition) {
        t.column("time", .double).notNull()
        t.column("protocolName", .text).notNull()
        t.column("client", .text).notNull()
        t.column("path", .text).notNull()
        t.column("result", .text).notNull()
        t.column("bytes", .integer).notNull()
        t.column("duration", .double).notNull()
        t.column("mac", .text)
        t.column("model", .text)
        t.column("firmware", .text)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "request") { t in
                t.autoIncrementedPrimaryKey("id")
                addRequestColumns(t)
            }
            try db.create(index: "request_mac_time", on: "request", columns: ["mac", "time"])
            try db.create(table: "device") { t in
                t.primaryKey("mac", .text)
                t.column("model", .text)
                t.column("firmware", .text)
                t.column("address", .text).notNull()
                t.column("firstSeen", .double).notNull()
                t.column("lastSeen", .double).notNull()
                t.column("lastPath", .text).notNull()
                t.column("lastResult", .text).notNull()
            }
        }
        migrator.registerMigration("v2: client certificates") { db in
            try db.alter(table: "request") { t in t.add(column: "certificate", .text) }
        }
        migrator.registerMigration("v3: append-only request table") { db in
            // Requests are only appended and read newest first (by id); a (mac, time) index made every insert a
            // random B-tree write, which cost more than serving the request. Per-device questions go to `device`.
            try db.drop(index: "request_mac_time")
        }
        migrator.registerMigration("v4: rowid request ids") { db in
            // AUTOINCREMENT made every insert read and write `sqlite_sequence` too: about a fifth of an insert.
            // A plain rowid key gives the same increasing ids, since rows are only appended.
            try db.create(table: "request_v4") { t in
                t.primaryKey("id", .integer)
                addRequestColumns(t)
                t.column("certificate", .text)
            }
            try db.execute(sql: "INSERT INTO request_v4 SELECT id, time, protocolName, client, path, result, bytes, "
                + "duration, mac, model, firmware, certificate FROM request")
            try db.drop(table: "request")
            try db.rename(table: "request_v4", to: "request")
        }
        migrator.registerMigration("v5: DHCP leases") { db in
            try db.create(table: "dhcpLease") { t in
                t.primaryKey("mac", .text)
                t.column("address", .text).notNull().unique()
                t.column("expires", .double).notNull()
                t.column("vendorClass", .text)
                t.column("updated", .double).notNull()
            }
        }
        return migrator
    }

    /// The most records waiting in one shard; beyond it records are dropped and counted, so a load the disk
    /// cannot keep up with costs bounded memory.
    public static let maximumPendingPerShard = 50_000
    /// Records dropped because the queue was full.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
    private let droppedCount = Atomic<Int>(0)

    /// Queues a record; it is written within ``flushInterval``.
    public func record(_ record: RequestRecord) {
        let accepted = pending.withLock { records -> Bool in
            guard records.count < RequestLog.maximumPendingPerShard else { return false }
            records.append(record)
            return true
        }
        if !accepted { droppedCount.add(1, ordering: .relaxed) }
    }

    /// Device updates not yet written. Requests are written every ``flushInterval``; devices at most once a
    /// second: a fleet polling at full speed touches the same rows over and over, and one upsert per device per
    /// second instead of one per request is what lets the log keep up with the HTTP fast path.
    let pendingDevices = Mutex<[String: DeviceUpdate]>([:])
    static let deviceWriteInterval: Double = 1


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
                let writingDevices = now - lastDeviceWrite >= .seconds(RequestLog.deviceWriteInterval)
                if writingDevices { lastDeviceWrite = now }
                flushLogging(writingDevices: writingDevices)
            }
            done.finish()
        }
        thread.start()
        try? await gracefulShutdown()
        stopping.store(true, ordering: .releasing)
        for await _ in finished {}
        flushLogging()
    }

    private let stopping = Atomic<Bool>(false)

    /// Flushes, logging a failure instead of throwing.
    private func flushLogging(writingDevices: Bool = true) {
        do {
            try flush(writingDevices: writingDevices)
        } catch {
            logger.error("request log write failed", metadata: ["storage.error": "\(error)"])
        }
    }

    /// Devices seen, most recent first.
    public func devices() throws -> [DeviceRecord] {
        try database.read { try DeviceRecord.order(Column("lastSeen").desc).fetchAll($0) }
    }

    /// One device, by its canonical MAC.
    public func device(mac: String) throws -> DeviceRecord? {
        try database.read { try DeviceRecord.fetchOne($0, key: mac) }
    }

    /// Which phones the log has seen since when, and their firmware, at `now` (seconds since 1970): the console's fleet
    /// page (the device table alone; the request table is not scanned).
    public func activity(now: Double) throws -> FleetActivity {
        try database.read { db in
            var activity = FleetActivity()
            let seen = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) FILTER (WHERE lastSeen >= ?) AS hour, COUNT(*) FILTER (WHERE lastSeen >= ?) AS day,
                       COUNT(*) AS ever FROM device
                """, arguments: [now - 3600, now - 86400])
            (activity.seenLastHour, activity.seenLastDay, activity.seenEver) = (seen?["hour"] ?? 0, seen?["day"] ?? 0, seen?["ever"] ?? 0)
            activity.firmware = try Row.fetchAll(db, sql: """
                SELECT firmware, COUNT(*) AS count FROM device WHERE firmware IS NOT NULL
                GROUP BY firmware ORDER BY count DESC, firmware LIMIT 20
                """).map { ($0["firmware"], $0["count"]) }
            return activity
        }
    }

    /// The latest requests, newest first, optionally for one MAC, over one protocol, or since a time (seconds
    /// since 1970).
    public func requests(mac: String? = nil, protocolName: String? = nil, since: Double? = nil,
                         limit: Int = 50) throws -> [RequestRecord] {
        try database.read { db in
            var request = RequestRecord.order(Column("id").desc).limit(limit)
            if let mac { request = request.filter(Column("mac") == mac) }
            if let protocolName { request = request.filter(Column("protocolName") == protocolName) }
            if let since { request = request.filter(Column("time") >= since) }
            return try request.fetchAll(db)
        }
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
