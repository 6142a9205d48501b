import Foundation
import GRDB
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

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
    public init(path: String?, logger: Logger, flushInterval: Duration = .milliseconds(200),
                identify: (@Sendable (inout RequestRecord) -> Void)? = nil) throws {
        self.identify = identify
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
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

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "request") { t in
                t.autoIncrementedPrimaryKey("id")
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
        var batch: [RequestRecord] = []
        pending.forEach { records in
            batch += records
            records.removeAll(keepingCapacity: true)
        }
        batch.sort { $0.time < $1.time }
        guard !batch.isEmpty else { return }
        if let identify {
            for index in batch.indices { identify(&batch[index]) }
        }
        var latest: [String: (firstTime: Double, last: RequestRecord, model: String?, firmware: String?)] = [:]
        for record in batch {
            guard let mac = record.mac else { continue }
            let earlier = latest[mac]
            latest[mac] = (earlier?.firstTime ?? record.time, record, record.model ?? earlier?.model,
                           record.firmware ?? earlier?.firmware)
        }
        try database.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO request (time, protocolName, client, path, result, bytes, duration, mac, model, firmware,
                certificate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for record in batch {
                try insert.execute(arguments: [
                    record.time, record.protocolName, record.client, record.path, record.result, record.bytes,
                    record.duration, record.mac, record.model, record.firmware, record.certificate,
                ])
            }
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO device (mac, model, firmware, address, firstSeen, lastSeen, lastPath, lastResult)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(mac) DO UPDATE SET model = coalesce(excluded.model, model),
                firmware = coalesce(excluded.firmware, firmware), address = excluded.address,
                lastSeen = excluded.lastSeen, lastPath = excluded.lastPath, lastResult = excluded.lastResult
                """)
            for (mac, device) in latest {
                try upsert.execute(arguments: [
                    mac, device.model, device.firmware, device.last.client, device.firstTime, device.last.time,
                    device.last.path, device.last.result,
                ])
            }
        }
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: self.flushInterval)
                // SQLite blocks: write on the thread pool, never on an event loop.
                try await NIOThreadPool.singleton.runIfActive { self.flushLogging() }
            }
        }
        flushLogging()
    }

    /// Flushes, logging a failure instead of throwing.
    private func flushLogging() {
        do {
            try flush()
        } catch {
            logger.error("request log write failed", metadata: ["storage.error": "\(error)"])
        }
    }

    /// Devices seen, most recent first.
    public func devices() throws -> [DeviceRecord] {
        try database.read { try DeviceRecord.order(Column("lastSeen").desc).fetchAll($0) }
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
