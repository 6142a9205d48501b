import Foundation
import PostgresNIO
import Storage
import Synchronization

/// The inventory in PostgreSQL: devices, groups, templates with their versions, the revision and what each device was
/// last told, as ``SQLiteInventory`` keeps them (lists and maps as sorted-key JSON text), so that several nodes share
/// one. Names sort byte by byte (`COLLATE "C"`), as SQLite sorts them, whatever the database's locale.
public final class PostgresInventory: InventoryStore {
    let database: PostgresDatabase

    public init(_ database: PostgresDatabase) throws {
        self.database = database
        try database.migrate(PostgresInventory.migrations)
    }

    static let migrations: [(name: String, statements: [String])] = [
        ("inventory v1: devices, groups, templates, revision, notified", [
            """
            CREATE TABLE device (mac TEXT COLLATE "C" PRIMARY KEY, model TEXT NOT NULL, label TEXT NOT NULL,
                state TEXT NOT NULL, groups TEXT NOT NULL, variables TEXT NOT NULL, password TEXT NOT NULL)
            """,
            "CREATE TABLE device_group (name TEXT COLLATE \"C\" PRIMARY KEY, variables TEXT NOT NULL)",
            """
            CREATE TABLE template (path TEXT COLLATE "C" NOT NULL, version INTEGER NOT NULL, text TEXT NOT NULL,
                saved DOUBLE PRECISION NOT NULL, removed BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (path, version))
            """,
            "CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL)",
            "INSERT INTO revision (id, value) VALUES (1, 0)",
            "CREATE TABLE notified (mac TEXT COLLATE \"C\" PRIMARY KEY, files TEXT NOT NULL, time DOUBLE PRECISION NOT NULL)",
        ]),
        adminMigration,
    ]

    var logger: Logger { database.logger }

    /// The channel every inventory write notifies.
    static let channel = "autoprov_inventory"

    private let reconnected = Atomic<Int>(0)
    public var reconnections: Int { reconnected.load(ordering: .acquiring) }

    /// Each notification on ``channel``, and one after each reconnection (``PostgresDatabase/notifications``).
    public func changeSignals() -> AsyncStream<Void>? {
        let notifications = database.notifications(on: PostgresInventory.channel, what: "inventory notifications",
                                                   signalFirst: false)
        let (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let relay = Task { [self] in
            for await notification in notifications {
                if notification == nil { reconnected.add(1, ordering: .releasing) }
                continuation.yield()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in relay.cancel() }
        return signals
    }

    // MARK: Writing

    public func apply(_ changes: [InventoryChange]) throws {
        guard !changes.isEmpty else { return }
        try database.transaction { connection in
            _ = try connection.query("UPDATE revision SET value = value + 1", logger: logger).waited()
            // Delivered to every node that listens when the transaction commits, never for one rolled back.
            _ = try connection.query("NOTIFY \(unescaped: PostgresInventory.channel)", logger: logger).waited()
            for change in changes {
                try apply(change, connection)
            }
        }
    }

    private func apply(_ change: InventoryChange, _ connection: PostgresConnection) throws {
        switch change {
        case .addDevice(let device):
            guard try !exists("SELECT 1 FROM device WHERE mac = $1", device.mac, connection) else {
                throw InventoryError.deviceExists(device.mac)
            }
            try checkGroups(device.groups, connection)
            try insert(device, connection)
        case .updateDevice(let device):
            guard try exists("SELECT 1 FROM device WHERE mac = $1", device.mac, connection) else {
                throw InventoryError.noSuchDevice(device.mac)
            }
            try checkGroups(device.groups, connection)
            let (groups, variables) = (try JSONText.encode(device.groups), try JSONText.encode(device.variables))
            _ = try connection.query("""
                UPDATE device SET model = \(device.model), label = \(device.label), state = \(device.state.rawValue),
                groups = \(groups), variables = \(variables), password = \(device.password) WHERE mac = \(device.mac)
                """, logger: logger).waited()
        case .removeDevice(let mac):
            let result = try connection.query("DELETE FROM device WHERE mac = \(mac)", logger: logger).waited()
            guard result.metadata.rows ?? 0 > 0 else { throw InventoryError.noSuchDevice(mac) }
        case .addGroup(let group):
            guard try !exists("SELECT 1 FROM device_group WHERE name = $1", group.name, connection) else {
                throw InventoryError.groupExists(group.name)
            }
            try insert(group, connection)
        case .updateGroup(let group):
            let variables = try JSONText.encode(group.variables)
            let result = try connection.query("UPDATE device_group SET variables = \(variables) WHERE name = \(group.name)",
                                              logger: logger).waited()
            guard result.metadata.rows ?? 0 > 0 else { throw InventoryError.noSuchGroup(group.name) }
        case .removeGroup(let name):
            guard try exists("SELECT 1 FROM device_group WHERE name = $1", name, connection) else {
                throw InventoryError.noSuchGroup(name)
            }
            let users = try count("""
                SELECT COUNT(*) FROM device, jsonb_array_elements_text(device.groups::jsonb) AS g(value) WHERE g.value = $1
                """, name, connection)
            guard users == 0 else { throw InventoryError.groupInUse(name, devices: users) }
            _ = try connection.query("DELETE FROM device_group WHERE name = \(name)", logger: logger).waited()
        case .saveTemplate(let layer, let text):
            let latest = try latestTemplate(layer.path, connection)
            guard latest?.text != text || latest?.removed == true else { return }
            _ = try connection.query("""
                INSERT INTO template (path, version, text, saved, removed) VALUES
                (\(layer.path), \((latest?.version ?? 0) + 1), \(text), \(Date().timeIntervalSince1970), FALSE)
                """, logger: logger).waited()
        case .removeTemplate(let layer):
            guard let latest = try latestTemplate(layer.path, connection), !latest.removed else {
                throw InventoryError.noSuchTemplate(layer.path)
            }
            _ = try connection.query("""
                INSERT INTO template (path, version, text, saved, removed) VALUES
                (\(layer.path), \(latest.version + 1), '', \(Date().timeIntervalSince1970), TRUE)
                """, logger: logger).waited()
        }
    }

    private func insert(_ device: InventoryDevice, _ connection: PostgresConnection) throws {
        let (groups, variables) = (try JSONText.encode(device.groups), try JSONText.encode(device.variables))
        _ = try connection.query("""
            INSERT INTO device (mac, model, label, state, groups, variables, password) VALUES
            (\(device.mac), \(device.model), \(device.label), \(device.state.rawValue), \(groups), \(variables),
             \(device.password))
            """, logger: logger).waited()
    }

    private func insert(_ group: InventoryGroup, _ connection: PostgresConnection) throws {
        let variables = try JSONText.encode(group.variables)
        _ = try connection.query("INSERT INTO device_group (name, variables) VALUES (\(group.name), \(variables))",
                                 logger: logger).waited()
    }

    /// The rows of a query with one parameter (`$1`).
    private func rows(_ sql: String, _ value: String, _ connection: PostgresConnection) throws -> [PostgresRow] {
        var binds = PostgresBindings()
        binds.append(value)
        return try connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).waited().rows
    }

    private func exists(_ sql: String, _ value: String, _ connection: PostgresConnection) throws -> Bool {
        try rows(sql, value, connection).first != nil
    }

    private func count(_ sql: String, _ value: String, _ connection: PostgresConnection) throws -> Int {
        try rows(sql, value, connection).first.map { try $0.decode(Int.self) } ?? 0
    }

    /// Throws for the first name that is not a group.
    private func checkGroups(_ names: [String], _ connection: PostgresConnection) throws {
        for name in names where try !exists("SELECT 1 FROM device_group WHERE name = $1", name, connection) {
            throw InventoryError.noSuchGroup(name)
        }
    }

    private func latestTemplate(_ path: String, _ connection: PostgresConnection) throws -> (version: Int, text: String, removed: Bool)? {
        let rows = try connection.query("""
            SELECT version, text, removed FROM template WHERE path = \(path) ORDER BY version DESC LIMIT 1
            """, logger: logger).waited().rows
        return try rows.first.map { try $0.decode((Int, String, Bool).self) }
    }

    public func recordNotified(_ files: [String: String]) throws {
        guard !files.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        try database.transaction { connection in
            for (mac, digest) in files {
                _ = try connection.query("""
                    INSERT INTO notified (mac, files, time) VALUES (\(mac), \(digest), \(now))
                    ON CONFLICT (mac) DO UPDATE SET files = EXCLUDED.files, time = EXCLUDED.time
                    """, logger: logger).waited()
            }
        }
    }

    // MARK: Reading

    private static let deviceColumns = "mac, model, label, state, groups, variables, password"

    private static func device(_ row: PostgresRow) throws -> InventoryDevice {
        let (mac, model, label, state, groups, variables, password) =
            try row.decode((String, String, String, String, String, String, String).self)
        return InventoryDevice(mac: mac, model: model, label: label, state: InventoryDevice.State(rawValue: state) ?? .disabled,
                               groups: JSONText.decode([String].self, groups) ?? [],
                               variables: JSONText.decode([String: String].self, variables) ?? [:], password: password)
    }

    /// The devices whose model and state are the filter's (what SQL can decide), by MAC, after `after`, at most `limit`.
    private func deviceRows(_ filter: DeviceFilter, after: String?, limit: Int?) throws -> [InventoryDevice] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let after {
            binds.append(after)
            conditions.append("mac > $\(binds.count)")
        }
        if let model = filter.model {
            binds.append(model)
            conditions.append("model = $\(binds.count)")
        }
        if let state = filter.state {
            binds.append(state.rawValue)
            conditions.append("state = $\(binds.count)")
        }
        let sql = "SELECT \(PostgresInventory.deviceColumns) FROM device"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY mac"
            + (limit.map { " LIMIT \($0)" } ?? "")
        return try database.withConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).waited().rows
                .map(PostgresInventory.device)
        }
    }

    public func devices(_ filter: DeviceFilter) throws -> [InventoryDevice] {
        try deviceRows(filter, after: nil, limit: nil).filter(filter.matches)
    }

    public func devices(_ filter: DeviceFilter, after: String?, limit: Int) throws -> [InventoryDevice] {
        try filter.page(after: after, limit: limit) { cursor, count in try deviceRows(filter, after: cursor, limit: count) }
    }

    public func device(mac: String) throws -> InventoryDevice? {
        try database.withConnection { connection in
            try connection.query("SELECT \(unescaped: PostgresInventory.deviceColumns) FROM device WHERE mac = \(mac)",
                                 logger: logger).waited().rows.first.map(PostgresInventory.device)
        }
    }

    private static func group(_ row: PostgresRow) throws -> InventoryGroup {
        let (name, variables) = try row.decode((String, String).self)
        return InventoryGroup(name: name, variables: JSONText.decode([String: String].self, variables) ?? [:])
    }

    public func groups() throws -> [InventoryGroup] {
        try database.withConnection { connection in
            try connection.query("SELECT name, variables FROM device_group ORDER BY name", logger: logger).waited().rows
                .map(PostgresInventory.group)
        }
    }

    public func group(named name: String) throws -> InventoryGroup? {
        try database.withConnection { connection in
            try connection.query("SELECT name, variables FROM device_group WHERE name = \(name)", logger: logger).waited()
                .rows.first.map(PostgresInventory.group)
        }
    }

    private static func template(_ row: PostgresRow) throws -> TemplateVersion? {
        let (path, version, text, saved, removed) = try row.decode((String, Int, String, Double, Bool).self)
        return TemplateLayer(path: path).map { TemplateVersion(layer: $0, version: version, text: text, saved: saved, removed: removed) }
    }

    public func templates() throws -> [TemplateVersion] {
        try database.withConnection { connection in
            try connection.query("""
                SELECT DISTINCT ON (path) path, version, text, saved, removed FROM template ORDER BY path, version DESC
                """, logger: logger).waited().rows.compactMap(PostgresInventory.template)
        }.filter { !$0.removed }.sorted { $0.layer < $1.layer }
    }

    public func versions(of layer: TemplateLayer) throws -> [TemplateVersion] {
        try database.withConnection { connection in
            try connection.query("""
                SELECT path, version, text, saved, removed FROM template WHERE path = \(layer.path) ORDER BY version
                """, logger: logger).waited().rows.compactMap(PostgresInventory.template)
        }
    }

    public func deviceCounts() throws -> [String: Int] {
        try database.withConnection { connection in
            var counts: [String: Int] = [:]
            for row in try connection.query("""
                SELECT g.value, COUNT(*) FROM device, jsonb_array_elements_text(device.groups::jsonb) AS g(value)
                GROUP BY g.value
                """, logger: logger).waited() {
                let (name, count) = try row.decode((String, Int).self)
                counts[name] = count
            }
            return counts
        }
    }

    public func stateModelCounts() throws -> [StateModelCount] {
        try database.withConnection { connection in
            try connection.query("""
                SELECT state, model, COUNT(*) FROM device GROUP BY state, model ORDER BY state, model
                """, logger: logger).waited().rows.map { row in
                let (state, model, count) = try row.decode((String, String, Int).self)
                return StateModelCount(state: InventoryDevice.State(rawValue: state) ?? .disabled, model: model, count: count)
            }
        }
    }

    public func revision() throws -> Int {
        try database.withConnection { connection in
            try connection.query("SELECT value FROM revision", logger: logger).waited().rows.first
                .map { try $0.decode(Int.self) } ?? 0
        }
    }

    public func dump() throws -> InventoryDump {
        try database.transaction { connection in
            let devices = try connection.query("SELECT \(unescaped: PostgresInventory.deviceColumns) FROM device",
                                               logger: logger).waited().rows.map(PostgresInventory.device)
            let groups = try connection.query("SELECT name, variables FROM device_group", logger: logger).waited().rows
                .map(PostgresInventory.group)
            let templates = try connection.query("SELECT path, version, text, saved, removed FROM template",
                                                 logger: logger).waited().rows.compactMap(PostgresInventory.template)
            let revision = try connection.query("SELECT value FROM revision", logger: logger).waited().rows.first
                .map { try $0.decode(Int.self) } ?? 0
            var notified: [String: InventoryDump.NotifiedFiles] = [:]
            for row in try connection.query("SELECT mac, files, time FROM notified", logger: logger).waited() {
                let (mac, files, time) = try row.decode((String, String, Double).self)
                notified[mac] = InventoryDump.NotifiedFiles(files: files, time: time)
            }
            return InventoryDump(devices: devices, groups: groups, templates: templates, revision: revision,
                                 notified: notified)
        }
    }

    public func load(_ dump: InventoryDump) throws {
        try database.transaction { connection in
            let holds = try connection.query("""
                SELECT (SELECT COUNT(*) FROM device) + (SELECT COUNT(*) FROM device_group) + (SELECT COUNT(*) FROM template)
                    + (SELECT COUNT(*) FROM notified)
                """, logger: logger).waited().rows.first.map { try $0.decode(Int.self) } ?? 0
            guard holds == 0 else { throw InventoryNotEmpty() }
            for group in dump.groups { try insert(group, connection) }
            for device in dump.devices { try insert(device, connection) }
            for template in dump.templates {
                _ = try connection.query("""
                    INSERT INTO template (path, version, text, saved, removed) VALUES
                    (\(template.layer.path), \(template.version), \(template.text), \(template.saved), \(template.removed))
                    """, logger: logger).waited()
            }
            for (mac, told) in dump.notified {
                _ = try connection.query("INSERT INTO notified (mac, files, time) VALUES (\(mac), \(told.files), \(told.time))",
                                         logger: logger).waited()
            }
            _ = try connection.query("UPDATE revision SET value = \(dump.revision)", logger: logger).waited()
            _ = try connection.query("NOTIFY \(unescaped: PostgresInventory.channel)", logger: logger).waited()
        }
    }

    public func notified() throws -> [String: String] {
        try database.withConnection { connection in
            var files: [String: String] = [:]
            for row in try connection.query("SELECT mac, files FROM notified", logger: logger).waited() {
                let (mac, digest) = try row.decode((String, String).self)
                files[mac] = digest
            }
            return files
        }
    }
}
