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

/// One request on any protocol, as recorded.
public struct RequestRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "request"

    public var id: Int64?
    /// Seconds since 1970 (UTC).
    public var time: Double
    /// `tftp`, `http`, `https`, `ftp`, `sip-pnp`.
    public var protocolName: String
    public var client: String
    public var path: String
    /// `ok`, `not-found`, `forbidden`, `unauthorized`, `stored`, `failed`, ….
    public var result: String
    public var bytes: Int
    public var duration: Double
    public var mac: String?
    public var model: String?
    public var firmware: String?
    /// The subject of the client's TLS certificate (mutual TLS), when it presented one.
    public var certificate: String?
    /// The User-Agent, kept until the device is identified (not stored).
    public var userAgent: String?

    enum CodingKeys: String, CodingKey {
        case id, time, protocolName, client, path, result, bytes, duration, mac, model, firmware, certificate
    }

    public init(time: Double, protocolName: String, client: String, path: String, result: String, bytes: Int,
                duration: Double, mac: String? = nil, model: String? = nil, firmware: String? = nil,
                userAgent: String? = nil, certificate: String? = nil) {
        self.time = time
        self.protocolName = protocolName
        self.client = client
        self.path = path
        self.result = result
        self.bytes = bytes
        self.duration = duration
        self.mac = mac
        self.model = model
        self.firmware = firmware
        self.userAgent = userAgent
        self.certificate = certificate
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A device seen by the server, by MAC.
public struct DeviceRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "device"

    public var mac: String
    public var model: String?
    public var firmware: String?
    public var address: String
    public var firstSeen: Double
    public var lastSeen: Double
    public var lastPath: String
    public var lastResult: String
}

/// The request log and device registry in the data folder's SQLite database.
///
/// `record` only appends to memory; a background flush writes batches in one transaction, so logging never
/// slows a transfer. Every long-running part is a `Service`: `run()` flushes until shutdown, then once more.
public final class RequestLog: Service, Sendable {
    let database: DatabaseQueue
    let pending = PerThread<[RequestRecord]> { [] }
    let logger: Logger
    /// How often pending records are written.
    public let flushInterval: Duration
    /// Fills in a record's device (MAC, model, firmware) before it is written.
    let identify: (@Sendable (inout RequestRecord) -> Void)?

    /// Opens (creating and migrating) the database at `path`; `nil` for an in-memory database.
    public init(path: String?, logger: Logger, flushInterval: Duration = .milliseconds(20),
                identify: (@Sendable (inout RequestRecord) -> Void)? = nil) throws {
        self.identify = identify
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync: a crash loses at most the last batches, never the file; far fewer fsyncs.
            try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768")
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

    /// Writes every queued record now: the requests, then one upsert per device seen in the batch.
    public func flush() throws {
        try flush(writingDevices: true)
    }

    /// What the next device write says of one device: the batches since the last write, merged.
    private struct DeviceUpdate {
        var firstTime: Double
        var lastTime: Double
        var client: String
        var path: String
        var result: String
        var model: String?
        var firmware: String?
    }

    /// Device updates not yet written. Requests are written every ``flushInterval``; devices at most once a
    /// second: a fleet polling at full speed touches the same rows over and over, and one upsert per device per
    /// second instead of one per request is what lets the log keep up with the HTTP fast path.
    private let pendingDevices = Mutex<[String: DeviceUpdate]>([:])
    static let deviceWriteInterval: Double = 1
    /// Writes the queued requests, and the device updates when `writingDevices`.
    func flush(writingDevices: Bool) throws {
        var batch: [RequestRecord] = []
        pending.forEach { records in
            batch += records
            records.removeAll(keepingCapacity: true)
        }
        guard !batch.isEmpty || writingDevices else { return }
        // Written in time order across shards; sorting indices moves no strings.
        let order = batch.indices.sorted { batch[$0].time < batch[$1].time }
        if let identify {
            // Called for every record: remembering identities by (protocol, path, User-Agent) cost more in
            // hashing and comparing than identifying again.
            var pacer = Pacer(work: batch.count)
            for index in batch.indices where batch[index].mac == nil {
                pacer.step()
                identify(&batch[index])
            }
        }
        var devices = pendingDevices.withLock { pending -> [String: DeviceUpdate] in
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
        try database.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO request (time, protocolName, client, path, result, bytes, duration, mac, model, firmware,
                certificate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            // Bound and stepped with SQLite's own calls: at tens of thousands of requests a second, building
            // `StatementArguments` for each record cost more than the insert.
            let statement = insert.sqliteStatement
            defer { sqlite3_reset(statement) }
            var pacer = Pacer(work: order.count)
            for index in order {
                pacer.step()
                sqlite3_reset(statement)
                sqlite3_bind_double(statement, 1, batch[index].time)
                bind(statement, 2, batch[index].protocolName)
                bind(statement, 3, batch[index].client)
                bind(statement, 4, batch[index].path)
                bind(statement, 5, batch[index].result)
                sqlite3_bind_int64(statement, 6, Int64(batch[index].bytes))
                sqlite3_bind_double(statement, 7, batch[index].duration)
                bind(statement, 8, batch[index].mac)
                bind(statement, 9, batch[index].model)
                bind(statement, 10, batch[index].firmware)
                bind(statement, 11, batch[index].certificate)
                let code = sqlite3_step(statement)
                guard code == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage)
                }
            }
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO device (mac, model, firmware, address, firstSeen, lastSeen, lastPath, lastResult)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(mac) DO UPDATE SET model = coalesce(excluded.model, model),
                firmware = coalesce(excluded.firmware, firmware), address = excluded.address,
                lastSeen = excluded.lastSeen, lastPath = excluded.lastPath, lastResult = excluded.lastResult
                """)
            // Raw binds here too: a fleet is tens of thousands of rows every second.
            let upsertStatement = upsert.sqliteStatement
            defer { sqlite3_reset(upsertStatement) }
            pacer = Pacer(work: devices.count)
            for (mac, device) in devices {
                pacer.step()
                sqlite3_reset(upsertStatement)
                bind(upsertStatement, 1, mac)
                bind(upsertStatement, 2, device.model)
                bind(upsertStatement, 3, device.firmware)
                bind(upsertStatement, 4, device.client)
                sqlite3_bind_double(upsertStatement, 5, device.firstTime)
                sqlite3_bind_double(upsertStatement, 6, device.lastTime)
                bind(upsertStatement, 7, device.path)
                bind(upsertStatement, 8, device.result)
                let code = sqlite3_step(upsertStatement)
                guard code == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage)
                }
            }
            devices = [:]
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

    /// Binds text, or NULL for nil; SQLite copies the bytes.
    private func bind(_ statement: OpaquePointer?, _ index: Int32, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(statement, index)
            return
        }
        text.withUTF8 { bytes in
            _ = sqlite3_bind_text(statement, index, UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self),
                                  Int32(bytes.count), RequestLog.transient)
        }
    }

    /// `SQLITE_TRANSIENT`, which C defines as a cast Swift does not import.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

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

    /// The latest requests, newest first, optionally for one MAC.
    public func requests(mac: String? = nil, limit: Int = 50) throws -> [RequestRecord] {
        try database.read { db in
            var request = RequestRecord.order(Column("id").desc).limit(limit)
            if let mac { request = request.filter(Column("mac") == mac) }
            return try request.fetchAll(db)
        }
    }
}
