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

    /// The most rows one statement carries (its arrays are one message to the server).
    static let rowsPerStatement = 20_000

    public func write(requests: [RequestRecord], order: [Int], devices: [String: DeviceUpdate]) throws {
        guard !order.isEmpty || !devices.isEmpty else { return }
        try database.transaction { connection in
            var start = 0
            while start < order.count {
                let chunk = order[start..<min(start + PostgresRequestLog.rowsPerStatement, order.count)]
                try insert(chunk.map { requests[$0] }, connection)
                start += chunk.count
            }
            if !devices.isEmpty { try upsert(devices, connection) }
        }
    }

    /// Requests in one statement: a column per array, unnested in order (`WITH ORDINALITY`), so ids follow time.
    /// Empty text stands for NULL in the optional columns (no MAC, model or firmware is ever empty).
    private func insert(_ records: [RequestRecord], _ connection: PostgresConnection) throws {
        var binds = PostgresBindings(capacity: 11)
        binds.append(records.map(\.time))
        binds.append(records.map { PostgresRequestLog.text($0.protocolName) })
        binds.append(records.map { PostgresRequestLog.text($0.client) })
        binds.append(records.map { PostgresRequestLog.text($0.path) })
        binds.append(records.map { PostgresRequestLog.text($0.result) })
        binds.append(records.map { Int64($0.bytes) })
        binds.append(records.map(\.duration))
        binds.append(records.map { PostgresRequestLog.text($0.mac) })
        binds.append(records.map { PostgresRequestLog.text($0.model) })
        binds.append(records.map { PostgresRequestLog.text($0.firmware) })
        binds.append(records.map { PostgresRequestLog.text($0.certificate) })
        _ = try connection.query(PostgresQuery(unsafeSQL: """
            INSERT INTO request_log (time, protocol, client, path, result, bytes, duration, mac, model, firmware, certificate)
            SELECT t, p, c, pa, r, b, d, NULLIF(m, ''), NULLIF(mo, ''), NULLIF(f, ''), NULLIF(ce, '')
            FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::float8[],
                        $8::text[], $9::text[], $10::text[], $11::text[])
                WITH ORDINALITY AS u(t, p, c, pa, r, b, d, m, mo, f, ce, n)
            ORDER BY n
            """, binds: binds), logger: logger).waited()
    }

    /// Device updates in one statement, merged as SQLite merges them (a model or firmware not said keeps the last).
    private func upsert(_ devices: [String: DeviceUpdate], _ connection: PostgresConnection) throws {
        let rows = Array(devices)
        var binds = PostgresBindings(capacity: 8)
        binds.append(rows.map { PostgresRequestLog.text($0.key) })
        binds.append(rows.map { PostgresRequestLog.text($0.value.model) })
        binds.append(rows.map { PostgresRequestLog.text($0.value.firmware) })
        binds.append(rows.map { PostgresRequestLog.text($0.value.client) })
        binds.append(rows.map(\.value.firstTime))
        binds.append(rows.map(\.value.lastTime))
        binds.append(rows.map { PostgresRequestLog.text($0.value.path) })
        binds.append(rows.map { PostgresRequestLog.text($0.value.result) })
        _ = try connection.query(PostgresQuery(unsafeSQL: """
            INSERT INTO device_seen AS d (mac, model, firmware, address, first_seen, last_seen, last_path, last_result)
            SELECT m, NULLIF(mo, ''), NULLIF(f, ''), a, fs, ls, p, r
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::text[])
                AS u(m, mo, f, a, fs, ls, p, r)
            ON CONFLICT (mac) DO UPDATE SET model = coalesce(excluded.model, d.model),
                firmware = coalesce(excluded.firmware, d.firmware), address = excluded.address,
                first_seen = least(d.first_seen, excluded.first_seen),
                last_seen = greatest(d.last_seen, excluded.last_seen),
                last_path = CASE WHEN excluded.last_seen >= d.last_seen THEN excluded.last_path ELSE d.last_path END,
                last_result = CASE WHEN excluded.last_seen >= d.last_seen THEN excluded.last_result ELSE d.last_result END
            """, binds: binds), logger: logger).waited()
    }

    /// Text as PostgreSQL takes it: no NUL (a path may carry one, percent-decoded), nil as empty.
    static func text(_ value: String?) -> String {
        guard let value else { return "" }
        return value.utf8.contains(0) ? value.replacingOccurrences(of: "\0", with: "\u{FFFD}") : value
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
