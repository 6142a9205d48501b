import Foundation
import PostgresNIO
@testable import PostgresStore
import TestSupport
import Storage
import Testing

/// What every inventory store must do, run against each: SQLite (the embedded default) and PostgreSQL (several nodes),
/// the latter a throwaway cluster of the test's own (issue 17). A second store on the same database stands for a
/// second process, or a second node.
@Suite("Inventory store contract: SQLite and PostgreSQL", .serialized, .timeLimit(.minutes(5)))
struct InventoryStoreContractTests {
    typealias Opened = OpenedStore<any InventoryStore>

    /// A store of `kind` on a new database.
    static func open(_ kind: StoreKind) throws -> Opened {
        try Opened(kind, name: "inventory") { scratch in
            switch scratch.kind {
            case .sqlite: try SQLiteInventory(path: scratch.path)
            case .postgresql: try PostgresInventory(try scratch.postgres())
            }
        }
    }

    func device(_ mac: String, model: String = "T46S", groups: [String] = [], state: InventoryDevice.State = .active,
                variables: [String: String] = [:]) -> InventoryDevice {
        InventoryDevice(mac: mac, model: model, label: "desk \(mac.suffix(2))", state: state, groups: groups,
                        variables: variables, password: "pw-\(mac)")
    }

    /// Runs `body` with a store of `kind` on a new database, on a thread of its own (it blocks); closed after.
    func with(_ kind: StoreKind, _ body: @escaping @Sendable (Opened) throws -> Void) async throws {
        try await withScratch({ try Self.open(kind) }, body)
    }

    @Test("devices and groups are stored whole, listed by MAC and name, filtered by group, model, state and text, paged",
          arguments: StoreKind.allCases)
    func roundTrip(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let store = opened.store
            try store.apply([.addGroup(InventoryGroup(name: "sales", variables: ["line": "2"])),
                             .addGroup(InventoryGroup(name: "floor2"))])
            let first = device("00156574b150", groups: ["sales", "floor2"], variables: ["sip_password": "s3cret", "ext": "201"])
            try store.apply([.addDevice(first), .addDevice(device("00156574b14f", model: "T54W", state: .pending))])
            #expect(try store.device(mac: "00156574b150") == first)
            #expect(try store.device(mac: "00156574b1ff") == nil)
            #expect(try store.devices(DeviceFilter()).map(\.mac) == ["00156574b14f", "00156574b150"])
            #expect(try store.devices(DeviceFilter(group: "sales")).map(\.mac) == ["00156574b150"])
            #expect(try store.devices(DeviceFilter(model: "T54W")).map(\.mac) == ["00156574b14f"])
            #expect(try store.devices(DeviceFilter(state: .pending)).map(\.mac) == ["00156574b14f"])
            #expect(try store.devices(DeviceFilter(text: "201")).map(\.mac) == ["00156574b150"])
            #expect(try store.groups().map(\.name) == ["floor2", "sales"])
            #expect(try store.group(named: "sales")?.variables == ["line": "2"])
            #expect(try store.group(named: "support") == nil)
            // Group order is the device's own, kept as given.
            var changed = first
            changed.groups = ["floor2", "sales"]
            changed.variables["ext"] = nil
            try store.apply([.updateDevice(changed)])
            #expect(try store.device(mac: "00156574b150") == changed)
            // Pages by MAC, each after the last of the one before; the filters SQL cannot apply still hold.
            try store.apply((0..<30).map { .addDevice(device(String(format: "0015650000%02x", $0), groups: $0 % 3 == 0 ? ["sales"] : [])) })
            let page = try store.devices(DeviceFilter(group: "sales"), after: nil, limit: 4).map(\.mac)
            #expect(page == ["001565000000", "001565000003", "001565000006", "001565000009"])
            let next = try store.devices(DeviceFilter(group: "sales"), after: page.last, limit: 100).map(\.mac)
            #expect(next.count == 7 && next.first == "00156500000c" && next.last == "00156574b150", "\(next)")
            #expect(try store.devices(DeviceFilter(), after: nil, limit: 0).isEmpty)
        }
    }

    @Test("a batch with one bad change writes nothing; each refusal names what is wrong; another connection sees the same",
          arguments: StoreKind.allCases)
    func allOrNothing(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let store = opened.store
            #expect(try store.revision() == 0)
            try store.apply([.addGroup(InventoryGroup(name: "sales")), .addDevice(device("00156574b150", groups: ["sales"]))])
            #expect(try store.revision() == 1)
            let refusals: [([InventoryChange], InventoryError)] = [
                ([.addDevice(device("00156574b151")), .addDevice(device("00156574b150"))], .deviceExists("00156574b150")),
                ([.addDevice(device("00156574b152", groups: ["nope"]))], .noSuchGroup("nope")),
                ([.addDevice(device("00156574b153")), .removeDevice(mac: "00156574b1ff")], .noSuchDevice("00156574b1ff")),
                ([.updateDevice(device("00156574b1fe"))], .noSuchDevice("00156574b1fe")),
                ([.addGroup(InventoryGroup(name: "sales"))], .groupExists("sales")),
                ([.removeGroup(name: "sales")], .groupInUse("sales", devices: 1)),
                ([.updateGroup(InventoryGroup(name: "support"))], .noSuchGroup("support")),
                ([.removeGroup(name: "support")], .noSuchGroup("support")),
                ([.removeTemplate(.defaults)], .noSuchTemplate("defaults.cfg")),
            ]
            for (batch, expected) in refusals {
                #expect(throws: expected) { try store.apply(batch) }
            }
            // Nothing of the refused batches was written, and a second process (or node) sees the same.
            let other = try opened.another()
            #expect(try other.devices(DeviceFilter()).map(\.mac) == ["00156574b150"])
            #expect(try other.groups().map(\.name) == ["sales"])
            // A refused batch leaves the revision; a write from another connection moves it for this one too.
            #expect(try store.revision() == 1)
            try other.apply([.removeDevice(mac: "00156574b150"), .removeGroup(name: "sales")])
            #expect(try store.devices(DeviceFilter()).isEmpty && store.groups().isEmpty)
            #expect(try store.revision() == 2)
            // The store is still usable after all those refusals (no transaction left open).
            try store.apply([.addGroup(InventoryGroup(name: "sales"))])
            #expect(try other.group(named: "sales") != nil && other.revision() == 3)
        }
    }

    @Test("templates: a save whose text changed is a new version, the same text is not; a removal keeps the versions; the latest of each in layer order",
          arguments: StoreKind.allCases)
    func templateVersions(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let store = opened.store
            try store.apply([.saveTemplate(.group("sales"), text: "#!version:1.0.0.1\n"), .saveTemplate(.defaults, text: "a\n"),
                             .saveTemplate(.device("00156574b150"), text: "d\n"), .saveTemplate(.model("T46S"), text: "m\n")])
            try store.apply([.saveTemplate(.defaults, text: "a\n")])
            try store.apply([.saveTemplate(.defaults, text: "b\n")])
            #expect(try store.templates().map(\.layer.path)
                        == ["defaults.cfg", "models/T46S.cfg", "groups/sales.cfg", "devices/00156574b150.cfg"])
            #expect(try store.versions(of: .defaults).map { "\($0.version):\($0.text)" } == ["1:a\n", "2:b\n"])
            #expect(try store.templates().first?.text == "b\n")
            try store.apply([.removeTemplate(.model("T46S"))])
            #expect(try store.templates().map(\.layer.path) == ["defaults.cfg", "groups/sales.cfg", "devices/00156574b150.cfg"])
            #expect(try store.versions(of: .model("T46S")).map { "\($0.version):\($0.removed)" } == ["1:false", "2:true"])
            // Saving the same text again after a removal brings it back as a new version.
            try store.apply([.saveTemplate(.model("T46S"), text: "m\n")])
            #expect(try store.versions(of: .model("T46S")).map(\.version) == [1, 2, 3])
            #expect(try store.templates().count == 4)
            #expect(TemplateLayer(path: "groups/sales.cfg") == .group("sales") && TemplateLayer(path: "other/x.cfg") == nil)
            #expect(TemplateLayer(path: "models/.cfg") == nil && TemplateLayer(path: "defaults.cfg") == .defaults)
        }
    }

    @Test("counts by group and by state and model; what devices were told, outside the revision; names sorted byte by byte",
          arguments: StoreKind.allCases)
    func countsAndNotified(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let store = opened.store
            let names = ["sales", "Support", "a-b", "ab", "floor 2"]
            try store.apply(names.map { .addGroup(InventoryGroup(name: $0)) })
            #expect(try store.groups().map(\.name) == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            try store.apply([.addDevice(device("00156574b150", groups: ["sales", "a-b"])),
                             .addDevice(device("00156574b151", groups: ["sales"])),
                             .addDevice(device("00156574b152", model: "T54W", state: .pending))])
            #expect(try store.deviceCounts() == ["sales": 2, "a-b": 1])
            #expect(try store.stateModelCounts() == [StateModelCount(state: .active, model: "T46S", count: 2),
                                                     StateModelCount(state: .pending, model: "T54W", count: 1)])
            let revision = try store.revision()
            try store.recordNotified(["00156574b150": "a.cfg=1", "00156574b151": "b.cfg=2"])
            try store.recordNotified(["00156574b150": "a.cfg=3"])
            #expect(try store.notified() == ["00156574b150": "a.cfg=3", "00156574b151": "b.cfg=2"])
            #expect(try store.revision() == revision)
        }
    }

    @Test("a dump loaded into an empty store of the other kind reads back the same, versions, times and revision too; a store that holds an inventory refuses one",
          arguments: StoreKind.allCases)
    func dumpAndLoad(_ kind: StoreKind) async throws {
        try await onOwnThread {
            let source = try Self.open(kind)
            let target = try Self.open(kind == .sqlite ? .postgresql : .sqlite)
            defer { withExtendedLifetime((source, target)) {} }
            try source.store.apply([.addGroup(InventoryGroup(name: "sales", variables: ["floor": "2"])),
                                    .addDevice(device("00156574b150", groups: ["sales"], variables: ["sip_password": "x1"])),
                                    .addDevice(device("00156574b151", state: .disabled)),
                                    .saveTemplate(.defaults, text: "a = 1\n"), .saveTemplate(.model("T46S"), text: "m\n")])
            try source.store.apply([.saveTemplate(.defaults, text: "a = 2\n"), .removeTemplate(.model("T46S"))])
            try source.store.recordNotified(["00156574b150": "00156574b150.cfg=abc"])
            let dump = try source.store.dump()
            #expect(dump.devices.count == 2 && dump.groups.count == 1 && dump.templates.count == 4 && dump.revision == 2)
            #expect(dump.notified["00156574b150"]?.files == "00156574b150.cfg=abc")
            try target.store.load(dump)
            #expect(try target.store.dump() == dump)
            #expect(try target.store.versions(of: .model("T46S")).map(\.removed) == [false, true])
            #expect(try target.store.revision() == 2)
            #expect(throws: InventoryNotEmpty.self) { try target.store.load(dump) }
            // The copy goes on from where the original was.
            try target.store.apply([.saveTemplate(.defaults, text: "a = 3\n")])
            #expect(try target.store.versions(of: .defaults).map(\.version) == [1, 2, 3] && target.store.revision() == 3)
        }
    }

    @Test("nodes that start together on a new PostgreSQL database migrate it once: each opens the store, each migration is recorded once")
    func migrationsOnce() async throws {
        let cluster = try await onOwnThread {
            let cluster = try ThrowawayPostgres()
            try cluster.createDatabase("fleet")
            return cluster
        }
        defer { cluster.stop() }
        let url = cluster.url("fleet")
        let opened = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await onOwnThread {
                        let database = try PostgresDatabase(url: url)
                        defer { database.close() }
                        return try PostgresInventory(database).revision()
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(opened == Array(repeating: 0, count: 6))
        let recorded = try await onOwnThread {
            let database = try PostgresDatabase(url: url)
            defer { database.close() }
            return try database.withConnection { connection in
            try connection.query("SELECT name, COUNT(*) FROM schema_migration GROUP BY name", logger: database.logger)
                    .waited().rows.map { try $0.decode((String, Int).self) }
            }
        }
        #expect(recorded.count == PostgresInventory.migrations.count && recorded.allSatisfy { $0.1 == 1 }, "\(recorded)")
    }

    @Test("administrators' tokens and accounts: added once by name, found by digest or name, listed by name, removed; another node sees the same",
          arguments: StoreKind.allCases)
    func administrators(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            guard let admins = opened.store as? any AdminTokenStore & AdminUserStore,
                  let other = try opened.another() as? any AdminTokenStore & AdminUserStore
            else { Issue.record("\(kind) keeps no administrators"); return }
            try admins.addToken(AdminToken(name: "deploy", role: .write, digest: "d1", created: 10))
            try admins.addToken(AdminToken(name: "audit", role: .read, digest: "d2", created: 11))
            #expect(throws: AdminTokenError.exists("deploy")) {
                try admins.addToken(AdminToken(name: "deploy", role: .read, digest: "d3", created: 12))
            }
            #expect(try other.token(digest: "d1") == AdminToken(name: "deploy", role: .write, digest: "d1", created: 10))
            #expect(try other.token(digest: "d3") == nil)
            #expect(try other.tokens().map(\.name) == ["audit", "deploy"])
            try other.revokeToken(named: "deploy")
            #expect(try admins.token(digest: "d1") == nil)
            #expect(throws: AdminTokenError.noSuchToken("deploy")) { try admins.revokeToken(named: "deploy") }

            let alice = AdminUser(name: "alice", role: .write, scheme: "pbkdf2-sha256", rounds: 600_000,
                                  salt: [0, 1, 2, 255], hash: Array(repeating: 7, count: 32), created: 20)
            try admins.addUser(alice)
            try admins.addUser(AdminUser(name: "bob", role: .read, scheme: "pbkdf2-sha256", rounds: 1, salt: [9],
                                         hash: [8], created: 21))
            #expect(throws: AdminUserError.exists("alice")) { try other.addUser(alice) }
            #expect(try other.user(named: "alice") == alice)
            #expect(try other.users().map(\.name) == ["alice", "bob"])
            try other.removeUser(named: "bob")
            #expect(try admins.user(named: "bob") == nil)
            #expect(throws: AdminUserError.noSuchUser("bob")) { try admins.removeUser(named: "bob") }
        }
    }
}
