import Foundation
import GRDB
import GRDBSQLite

/// The request log in the data folder's SQLite database (`autoprov.sqlite`).
public final class SQLiteRequestLog: RequestLogStore {
    let database: DatabaseQueue

    /// Opens (creating and migrating) the database at `path`; `nil` for an in-memory database.
    public init(path: String?) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync: a crash loses at most the last batches, never the file; far fewer fsyncs.
            // A 2 MB page cache: requests are only appended and devices upserted once a second at most, so a larger
            // one (8 MB before) filled under load and bought no speed, only resident memory.
            try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2048")
        }
        if let path {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
        } else {
            database = try DatabaseQueue(configuration: configuration)
        }
        try SQLiteRequestLog.migrator.migrate(database)
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

    public func write(requests batch: [RequestRecord], order: [Int], devices: [String: DeviceUpdate]) throws {
        try database.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO request (time, protocolName, client, path, result, bytes, duration, mac, model, firmware,
                certificate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            // Bound and stepped with SQLite's own calls: at tens of thousands of requests a second, building
            // `StatementArguments` for each record cost more than the insert.
            let statement = insert.sqliteStatement
            defer { sqlite3_reset(statement) }
            var pacer = RequestLog.Pacer(work: order.count)
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
            pacer = RequestLog.Pacer(work: devices.count)
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
        }
    }

    /// Binds text, or NULL for nil; SQLite copies the bytes. A NUL (which would cut the text short when read back,
    /// and which PostgreSQL's text cannot hold) is stored as '?'.
    private func bind(_ statement: OpaquePointer?, _ index: Int32, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(statement, index)
            return
        }
        if text.utf8.withContiguousStorageIfAvailable({ $0.count > 0 && memchr($0.baseAddress!, 0, $0.count) != nil }) == true {
            text = text.replacingOccurrences(of: "\0", with: "?")
        }
        text.withUTF8 { bytes in
            _ = sqlite3_bind_text(statement, index, UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self),
                                  Int32(bytes.count), SQLiteRequestLog.transient)
        }
    }

    /// `SQLITE_TRANSIENT`, which C defines as a cast Swift does not import.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

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
    public func requests(mac: String?, protocolName: String?, since: Double?, limit: Int) throws -> [RequestRecord] {
        try database.read { db in
            var request = RequestRecord.order(Column("id").desc).limit(limit)
            if let mac { request = request.filter(Column("mac") == mac) }
            if let protocolName { request = request.filter(Column("protocolName") == protocolName) }
            if let since { request = request.filter(Column("time") >= since) }
            return try request.fetchAll(db)
        }
    }
}


