import Foundation
import GRDB

/// The inventory in SQLite (`inventory.sqlite` in the data folder), through GRDB: the embedded default.
public final class SQLiteInventory: InventoryStore {
    let database: DatabaseQueue

    /// Opens (creating and migrating) the inventory at `path`; nil for one in memory.
    public init(path: String?) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        database = try path.map { try DatabaseQueue(path: $0, configuration: configuration) }
            ?? DatabaseQueue(configuration: configuration)
        try SQLiteInventory.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: devices and groups") { db in
            try db.create(table: DeviceRow.databaseTableName) { table in
                table.primaryKey("mac", .text)
                table.column("model", .text).notNull()
                table.column("label", .text).notNull()
                table.column("state", .text).notNull()
                table.column("groups", .text).notNull()
                table.column("variables", .text).notNull()
                table.column("password", .text).notNull()
            }
            try db.create(table: GroupRow.databaseTableName) { table in
                table.primaryKey("name", .text)
                table.column("variables", .text).notNull()
            }
        }
        migrator.registerMigration("v2: templates with versions") { db in
            try db.create(table: TemplateRow.databaseTableName) { table in
                table.column("path", .text).notNull()
                table.column("version", .integer).notNull()
                table.column("text", .text).notNull()
                table.column("saved", .double).notNull()
                table.primaryKey(["path", "version"])
            }
        }
        migrator.registerMigration("v3: a revision counted up by each write") { db in
            try db.execute(sql: "CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO revision (id, value) VALUES (1, 0)")
        }
        migrator.registerMigration("v4: what each device was last told of") { db in
            try db.execute(sql: "CREATE TABLE notified (mac TEXT PRIMARY KEY, files TEXT NOT NULL, time REAL NOT NULL)")
        }
        registerAdminMigrations(&migrator)
        migrator.registerMigration("v6: removed templates keep their versions") { db in
            try db.execute(sql: "ALTER TABLE template ADD COLUMN removed INTEGER NOT NULL DEFAULT 0")
        }
        registerUserMigrations(&migrator)
        return migrator
    }

    public func deviceCounts() throws -> [String: Int] {
        try database.read { db in
            Dictionary(try Row.fetchAll(db, sql: """
                SELECT g.value AS name, COUNT(*) AS count FROM device, json_each(device.groups) AS g GROUP BY g.value
                """).map { ($0["name"] as String, $0["count"] as Int) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public func stateModelCounts() throws -> [StateModelCount] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT state, model, COUNT(*) AS count FROM device GROUP BY state, model ORDER BY state, model")
                .map { StateModelCount(state: InventoryDevice.State(rawValue: $0["state"]) ?? .disabled, model: $0["model"],
                                       count: $0["count"]) }
        }
    }

    /// How many devices name a group, counted in SQL (an inventory of 100,000 devices is not read for it).
    static func devices(in group: String, _ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM device, json_each(device.groups) AS g WHERE g.value = ?",
                         arguments: [group]) ?? 0
    }

    public func notified() throws -> [String: String] {
        try database.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT mac, files FROM notified").map { ($0["mac"] as String, $0["files"] as String) },
                       uniquingKeysWith: { first, _ in first })
        }
    }

    public func recordNotified(_ files: [String: String]) throws {
        let now = Date().timeIntervalSince1970
        try database.write { db in
            let statement = try db.makeStatement(sql: "INSERT OR REPLACE INTO notified (mac, files, time) VALUES (?, ?, ?)")
            for (mac, digest) in files { try statement.execute(arguments: [mac, digest, now]) }
        }
    }

    public func dump() throws -> InventoryDump {
        try database.read { db in
            InventoryDump(
                devices: try DeviceRow.fetchAll(db).map(\.device), groups: try GroupRow.fetchAll(db).map(\.group),
                templates: try TemplateRow.fetchAll(db).compactMap(\.template),
                revision: try Int.fetchOne(db, sql: "SELECT value FROM revision") ?? 0,
                notified: Dictionary(try Row.fetchAll(db, sql: "SELECT mac, files, time FROM notified").map {
                    ($0["mac"] as String, InventoryDump.NotifiedFiles(files: $0["files"], time: $0["time"]))
                }, uniquingKeysWith: { first, _ in first }))
        }
    }

    public func load(_ dump: InventoryDump) throws {
        try database.write { db in
            let holds = try Int.fetchOne(db, sql: """
                SELECT (SELECT COUNT(*) FROM device) + (SELECT COUNT(*) FROM deviceGroup) + (SELECT COUNT(*) FROM template)
                    + (SELECT COUNT(*) FROM notified)
                """) ?? 0
            guard holds == 0 else { throw InventoryNotEmpty() }
            for group in dump.groups { try GroupRow(group).insert(db) }
            for device in dump.devices { try DeviceRow(device).insert(db) }
            for template in dump.templates {
                try TemplateRow(path: template.layer.path, version: template.version, text: template.text,
                                saved: template.saved, removed: template.removed).insert(db)
            }
            for (mac, told) in dump.notified {
                try db.execute(sql: "INSERT INTO notified (mac, files, time) VALUES (?, ?, ?)", arguments: [mac, told.files, told.time])
            }
            try db.execute(sql: "UPDATE revision SET value = ?", arguments: [dump.revision])
        }
    }

    public func revision() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT value FROM revision") ?? 0 }
    }

    public func apply(_ changes: [InventoryChange]) throws {
        try database.write { db in
            if !changes.isEmpty { try db.execute(sql: "UPDATE revision SET value = value + 1") }
            for change in changes {
                switch change {
                case .addDevice(let device):
                    guard try !SQLiteInventory.hasDevice(device.mac, db) else { throw InventoryError.deviceExists(device.mac) }
                    try SQLiteInventory.checkGroups(device.groups, db)
                    try DeviceRow(device).insert(db)
                case .updateDevice(let device):
                    guard try SQLiteInventory.hasDevice(device.mac, db) else { throw InventoryError.noSuchDevice(device.mac) }
                    try SQLiteInventory.checkGroups(device.groups, db)
                    try DeviceRow(device).update(db)
                case .removeDevice(let mac):
                    guard try DeviceRow.deleteOne(db, key: mac) else { throw InventoryError.noSuchDevice(mac) }
                case .addGroup(let group):
                    guard try GroupRow.fetchOne(db, key: group.name) == nil else { throw InventoryError.groupExists(group.name) }
                    try GroupRow(group).insert(db)
                case .updateGroup(let group):
                    guard try GroupRow.fetchOne(db, key: group.name) != nil else { throw InventoryError.noSuchGroup(group.name) }
                    try GroupRow(group).update(db)
                case .removeGroup(let name):
                    guard try GroupRow.fetchOne(db, key: name) != nil else { throw InventoryError.noSuchGroup(name) }
                    let users = try SQLiteInventory.devices(in: name, db)
                    guard users == 0 else { throw InventoryError.groupInUse(name, devices: users) }
                    try GroupRow.deleteOne(db, key: name)
                case .saveTemplate(let layer, let text):
                    let latest = try TemplateRow.filter(Column("path") == layer.path).order(Column("version").desc)
                        .fetchOne(db)
                    guard latest?.text != text || latest?.removed == true else { continue }
                    try TemplateRow(path: layer.path, version: (latest?.version ?? 0) + 1, text: text,
                                    saved: Date().timeIntervalSince1970, removed: false).insert(db)
                case .removeTemplate(let layer):
                    let latest = try TemplateRow.filter(Column("path") == layer.path).order(Column("version").desc)
                        .fetchOne(db)
                    guard let latest, !latest.removed else { throw InventoryError.noSuchTemplate(layer.path) }
                    try TemplateRow(path: layer.path, version: latest.version + 1, text: "",
                                    saved: Date().timeIntervalSince1970, removed: true).insert(db)
                }
            }
        }
    }

    /// Throws for the first name that is not a group. Cached statements: an import of 100,000 devices asks this
    /// 100,000 times.
    private static func checkGroups(_ names: [String], _ db: Database) throws {
        let statement = try db.cachedStatement(sql: "SELECT 1 FROM \(GroupRow.databaseTableName) WHERE name = ?")
        for name in names where try Int.fetchOne(statement, arguments: [name]) == nil { throw InventoryError.noSuchGroup(name) }
    }

    private static func hasDevice(_ mac: String, _ db: Database) throws -> Bool {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM \(DeviceRow.databaseTableName) WHERE mac = ?"),
                         arguments: [mac]) != nil
    }

    public func devices(_ filter: DeviceFilter) throws -> [InventoryDevice] {
        try database.read { db in
            var request = DeviceRow.order(Column("mac"))
            if let model = filter.model { request = request.filter(Column("model") == model) }
            if let state = filter.state { request = request.filter(Column("state") == state.rawValue) }
            return try request.fetchAll(db).map(\.device).filter(filter.matches)
        }
    }

    public func devices(_ filter: DeviceFilter, after: String?, limit: Int) throws -> [InventoryDevice] {
        try database.read { db in
            try filter.page(after: after, limit: limit) { cursor, count in
                var request = DeviceRow.order(Column("mac")).limit(count)
                if let cursor { request = request.filter(Column("mac") > cursor) }
                if let model = filter.model { request = request.filter(Column("model") == model) }
                if let state = filter.state { request = request.filter(Column("state") == state.rawValue) }
                return try request.fetchAll(db).map(\.device)
            }
        }
    }

    public func device(mac: String) throws -> InventoryDevice? {
        try database.read { try DeviceRow.fetchOne($0, key: mac)?.device }
    }

    public func groups() throws -> [InventoryGroup] {
        try database.read { try GroupRow.order(Column("name")).fetchAll($0).map(\.group) }
    }

    public func group(named name: String) throws -> InventoryGroup? {
        try database.read { try GroupRow.fetchOne($0, key: name)?.group }
    }

    public func templates() throws -> [TemplateVersion] {
        try database.read { db in
            try TemplateRow.fetchAll(db, sql: """
                SELECT t.* FROM template t
                WHERE t.version = (SELECT MAX(version) FROM template WHERE path = t.path) AND t.removed = 0
                """)
        }.compactMap(\.template).sorted { $0.layer < $1.layer }
    }

    public func versions(of layer: TemplateLayer) throws -> [TemplateVersion] {
        try database.read { db in
            try TemplateRow.filter(Column("path") == layer.path).order(Column("version")).fetchAll(db)
        }.compactMap(\.template)
    }
}

/// A device as a row: groups and variables as JSON text.
struct DeviceRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "device"
    var mac: String
    var model: String
    var label: String
    var state: String
    var groups: String
    var variables: String
    var password: String

    init(_ device: InventoryDevice) throws {
        mac = device.mac
        model = device.model
        label = device.label
        state = device.state.rawValue
        groups = try JSONText.encode(device.groups)
        variables = try JSONText.encode(device.variables)
        password = device.password
    }

    var device: InventoryDevice {
        InventoryDevice(mac: mac, model: model, label: label, state: InventoryDevice.State(rawValue: state) ?? .disabled,
                        groups: JSONText.decode([String].self, groups) ?? [],
                        variables: JSONText.decode([String: String].self, variables) ?? [:], password: password)
    }
}

struct GroupRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "deviceGroup"
    var name: String
    var variables: String

    init(_ group: InventoryGroup) throws {
        name = group.name
        variables = try JSONText.encode(group.variables)
    }

    var group: InventoryGroup {
        InventoryGroup(name: name, variables: JSONText.decode([String: String].self, variables) ?? [:])
    }
}

struct TemplateRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "template"
    var path: String
    var version: Int
    var text: String
    var saved: Double
    var removed: Bool

    var template: TemplateVersion? {
        TemplateLayer(path: path).map { TemplateVersion(layer: $0, version: version, text: text, saved: saved, removed: removed) }
    }
}

/// JSON with sorted keys: the same value always gives the same text (each store keeps lists and maps so).
public enum JSONText {
    public static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
