import Foundation
import PostgresNIO
import Storage

/// The request log, the device registry and the DHCP leases in PostgreSQL, as ``SQLiteRequestLog`` keeps them, so
/// that `autoprov log` and the console on any node show every node's requests. A batch is one statement per table
/// whatever its size (arrays bound once and unnested, in order), so the log's one writer per node keeps up with the
/// fast paths. Its own connection: the log's writes never wait behind the inventory's.
public final class PostgresRequestLog: RequestLogStore {
    let database: PostgresDatabase

    public init(_ database: PostgresDatabase) throws {
        self.database = database
        try database.migrate(PostgresRequestLog.migrations)
    }

    static let migrations: [(name: String, statements: [String])] = [
        ("request log v1: requests, devices seen, DHCP leases", [
            """
            CREATE TABLE request_log (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time DOUBLE PRECISION NOT NULL,
                protocol TEXT NOT NULL, client TEXT NOT NULL, path TEXT NOT NULL, result TEXT NOT NULL,
                bytes BIGINT NOT NULL, duration DOUBLE PRECISION NOT NULL, mac TEXT COLLATE "C", model TEXT,
                firmware TEXT, certificate TEXT)
            """,
            """
            CREATE TABLE device_seen (mac TEXT COLLATE "C" PRIMARY KEY, model TEXT, firmware TEXT, address TEXT NOT NULL,
                first_seen DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL, last_path TEXT NOT NULL,
                last_result TEXT NOT NULL)
            """,
            "CREATE INDEX device_seen_last_seen ON device_seen (last_seen)",
            """
            CREATE TABLE dhcp_lease (mac TEXT COLLATE "C" PRIMARY KEY, address TEXT COLLATE "C" NOT NULL UNIQUE,
                expires DOUBLE PRECISION NOT NULL, vendor_class TEXT, updated DOUBLE PRECISION NOT NULL)
            """,
        ]),
    ]

    private var logger: Logger { database.logger }

    /// The most rows one statement carries (one message to the server).
    static let rowsPerStatement = 20_000

    /// Every 5 seconds, not every second as in SQLite: an update of a device's row in PostgreSQL is a new row version
    /// and its index entries, and during a boot storm each phone's requests within a few seconds make one update
    /// instead of several. `autoprov devices` shows a phone's last request at most this late (pending phones are
    /// found from each batch, at once).
    public var deviceWriteInterval: Double { 5 }

    public func write(requests: [RequestRecord], order: [Int], devices: [String: DeviceUpdate]) throws {
        guard !order.isEmpty || !devices.isEmpty else { return }
        try database.transaction { connection in
            var start = 0
            while start < order.count {
                let chunk = order[start..<min(start + PostgresRequestLog.rowsPerStatement, order.count)]
                try insert(requests, chunk, connection)
                start += chunk.count
            }
            if !devices.isEmpty { try upsert(devices, connection) }
        }
    }

    /// Requests by `COPY … FROM STDIN`, in order (ids are drawn as rows arrive): PostgreSQL stores a page of rows
    /// at a time and logs one WAL record for them, where an INSERT of the same rows cost it about twice as much.
    private func insert(_ records: [RequestRecord], _ order: ArraySlice<Int>, _ connection: PostgresConnection) throws {
        var rows = ByteBuffer()
        rows.reserveCapacity(order.count * 160)
        for index in order {
            let record = records[index]
            CopyText.write(record.time, to: &rows)
            CopyText.write(record.protocolName, to: &rows)
            CopyText.write(record.client, to: &rows)
            CopyText.write(record.path, to: &rows)
            CopyText.write(record.result, to: &rows)
            CopyText.write(Int64(record.bytes), to: &rows)
            CopyText.write(record.duration, to: &rows)
            CopyText.write(record.mac, to: &rows)
            CopyText.write(record.model, to: &rows)
            CopyText.write(record.firmware, to: &rows)
            CopyText.write(record.certificate, to: &rows, last: true)
        }
        let (logger, batch) = (self.logger, rows)
        guard !connection.isClosed else { throw StoreUnavailable("the connection to PostgreSQL closed") }
        try PostgresDatabase.waitFor(connection) {
            try await connection.copyFrom(table: "request_log", columns: [
                "time", "protocol", "client", "path", "result", "bytes", "duration", "mac", "model", "firmware", "certificate",
            ], logger: logger) { writer in
                try await writer.write(batch)
            }
        }
    }

    /// Device updates in one statement, merged as SQLite merges them (a model or firmware not said keeps the last).
    private func upsert(_ devices: [String: DeviceUpdate], _ connection: PostgresConnection) throws {
        let rows = Array(devices)
        let count = rows.count
        func text(_ field: @escaping ((key: String, value: DeviceUpdate)) -> String?) -> ColumnArray {
            ColumnArray(count: count, .text { field(rows[$0]) })
        }
        var binds = PostgresBindings(capacity: 8)
        binds.append(text(\.key))
        binds.append(text(\.value.model))
        binds.append(text(\.value.firmware))
        binds.append(text(\.value.client))
        binds.append(ColumnArray(count: count, .double { rows[$0].value.firstTime }))
        binds.append(ColumnArray(count: count, .double { rows[$0].value.lastTime }))
        binds.append(text(\.value.path))
        binds.append(text(\.value.result))
        _ = try connection.query(PostgresQuery(unsafeSQL: """
            INSERT INTO device_seen AS d (mac, model, firmware, address, first_seen, last_seen, last_path, last_result)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[],
                                 $8::text[])
            ON CONFLICT (mac) DO UPDATE SET model = coalesce(excluded.model, d.model),
                firmware = coalesce(excluded.firmware, d.firmware), address = excluded.address,
                first_seen = least(d.first_seen, excluded.first_seen),
                last_seen = greatest(d.last_seen, excluded.last_seen),
                last_path = CASE WHEN excluded.last_seen >= d.last_seen THEN excluded.last_path ELSE d.last_path END,
                last_result = CASE WHEN excluded.last_seen >= d.last_seen THEN excluded.last_result ELSE d.last_result END
            """, binds: binds), logger: logger).waited()
    }

    // MARK: Reading

    private static let deviceColumns = "mac, model, firmware, address, first_seen, last_seen, last_path, last_result"

    private static func device(_ row: PostgresRow) throws -> DeviceRecord {
        let (mac, model, firmware, address, first, last, path, result) = try row.decode(
            (String, String?, String?, String, Double, Double, String, String).self)
        return DeviceRecord(mac: mac, model: model, firmware: firmware, address: address, firstSeen: first,
                            lastSeen: last, lastPath: path, lastResult: result)
    }

    public func devices() throws -> [DeviceRecord] {
        try database.withConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL:
                "SELECT \(PostgresRequestLog.deviceColumns) FROM device_seen ORDER BY last_seen DESC"), logger: logger)
                .waited().rows.map(PostgresRequestLog.device)
        }
    }

    public func device(mac: String) throws -> DeviceRecord? {
        try database.withConnection { connection in
            var binds = PostgresBindings()
            binds.append(mac)
            return try connection.query(PostgresQuery(unsafeSQL:
                "SELECT \(PostgresRequestLog.deviceColumns) FROM device_seen WHERE mac = $1", binds: binds),
                logger: logger).waited().rows.first.map(PostgresRequestLog.device)
        }
    }

    public func activity(now: Double) throws -> FleetActivity {
        try database.withConnection { connection in
            var activity = FleetActivity()
            let hour = now - 3600, day = now - 86400
            if let row = try connection.query("""
                SELECT COUNT(*) FILTER (WHERE last_seen >= \(hour)), COUNT(*) FILTER (WHERE last_seen >= \(day)),
                       COUNT(*) FROM device_seen
                """, logger: logger).waited().rows.first {
                (activity.seenLastHour, activity.seenLastDay, activity.seenEver) = try row.decode((Int, Int, Int).self)
            }
            activity.firmware = try connection.query("""
                SELECT firmware, COUNT(*) AS count FROM device_seen WHERE firmware IS NOT NULL
                GROUP BY firmware ORDER BY count DESC, firmware COLLATE "C" LIMIT 20
                """, logger: logger).waited().rows.map { try $0.decode((String, Int).self) }
            return activity
        }
    }

    public func requests(mac: String?, protocolName: String?, since: Double?, limit: Int) throws -> [RequestRecord] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let mac {
            binds.append(mac)
            conditions.append("mac = $\(binds.count)")
        }
        if let protocolName {
            binds.append(protocolName)
            conditions.append("protocol = $\(binds.count)")
        }
        if let since {
            binds.append(since)
            conditions.append("time >= $\(binds.count)")
        }
        binds.append(limit)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT id, time, protocol, client, path, result, bytes, duration, mac, model, firmware, certificate
            FROM request_log \(filter) ORDER BY id DESC LIMIT $\(binds.count)
            """
        return try database.withConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).waited().rows.map { row in
                let columns = try row.decode((Int64, Double, String, String, String, String, Int64, Double, String?,
                                              String?, String?, String?).self)
                var record = RequestRecord(time: columns.1, protocolName: columns.2, client: columns.3, path: columns.4,
                                           result: columns.5, bytes: Int(columns.6), duration: columns.7,
                                           mac: columns.8, model: columns.9, firmware: columns.10,
                                           certificate: columns.11)
                record.id = columns.0
                return record
            }
        }
    }

    // MARK: DHCP leases

    public func saveLease(_ lease: LeaseRecord) throws {
        try database.transaction { connection in
            _ = try connection.query("DELETE FROM dhcp_lease WHERE address = \(lease.address) AND mac <> \(lease.mac)",
                                     logger: logger).waited()
            _ = try connection.query("""
                INSERT INTO dhcp_lease (mac, address, expires, vendor_class, updated)
                VALUES (\(lease.mac), \(lease.address), \(lease.expires), \(lease.vendorClass), \(lease.updated))
                ON CONFLICT (mac) DO UPDATE SET address = excluded.address, expires = excluded.expires,
                    vendor_class = excluded.vendor_class, updated = excluded.updated
                """, logger: logger).waited()
        }
    }

    public func removeLease(mac: String) throws {
        try database.withConnection { connection in
            _ = try connection.query("DELETE FROM dhcp_lease WHERE mac = \(mac)", logger: logger).waited()
        }
    }

    public func leases() throws -> [LeaseRecord] {
        try database.withConnection { connection in
            try connection.query("""
                SELECT mac, address, expires, vendor_class, updated FROM dhcp_lease ORDER BY address COLLATE "C"
                """, logger: logger).waited().rows.map { row in
                let (mac, address, expires, vendorClass, updated) = try row.decode((String, String, Double, String?, Double).self)
                return LeaseRecord(mac: mac, address: address, expires: expires, vendorClass: vendorClass, updated: updated)
            }
        }
    }
}
