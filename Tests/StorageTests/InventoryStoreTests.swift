import Foundation
@testable import Storage
import Testing

/// The inventory store in-process (SQLite in memory and on disk): what every store implementation must do.
@Suite("Inventory store: devices, groups, batches all or nothing", .timeLimit(.minutes(2)))
struct InventoryStoreTests {
    func device(_ mac: String, model: String = "T46S", groups: [String] = [], state: InventoryDevice.State = .active,
                variables: [String: String] = [:]) -> InventoryDevice {
        InventoryDevice(mac: mac, model: model, label: "desk \(mac.suffix(2))", state: state, groups: groups,
                        variables: variables, password: "pw-\(mac)")
    }

    @Test("devices and groups are stored whole, listed by MAC and name, filtered by group, model and state")
    func roundTrip() throws {
        let store = try SQLiteInventory(path: nil)
        try store.apply([.addGroup(InventoryGroup(name: "sales", variables: ["line": "2"])),
                         .addGroup(InventoryGroup(name: "floor2"))])
        let first = device("00156574b150", groups: ["sales", "floor2"], variables: ["sip_password": "s3cret", "ext": "201"])
        try store.apply([.addDevice(first), .addDevice(device("00156574b14f", model: "T54W", state: .pending))])
        #expect(try store.device(mac: "00156574b150") == first)
        #expect(try store.devices(DeviceFilter()).map(\.mac) == ["00156574b14f", "00156574b150"])
        #expect(try store.devices(DeviceFilter(group: "sales")).map(\.mac) == ["00156574b150"])
        #expect(try store.devices(DeviceFilter(model: "T54W")).map(\.mac) == ["00156574b14f"])
        #expect(try store.devices(DeviceFilter(state: .pending)).map(\.mac) == ["00156574b14f"])
        #expect(try store.groups().map(\.name) == ["floor2", "sales"])
        #expect(try store.group(named: "sales")?.variables == ["line": "2"])
        // Group order is the device's own, kept as given.
        var changed = first
        changed.groups = ["floor2", "sales"]
        changed.variables["ext"] = nil
        try store.apply([.updateDevice(changed)])
        #expect(try store.device(mac: "00156574b150") == changed)
    }

    @Test("a batch with one bad change writes nothing; each refusal names what is wrong")
    func allOrNothing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-inventory-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("inventory.sqlite").path
        let store = try SQLiteInventory(path: path)
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
        ]
        for (batch, expected) in refusals {
            #expect(throws: expected) { try store.apply(batch) }
        }
        // Nothing of the refused batches was written, and a second process opening the file sees the same.
        let reopened = try SQLiteInventory(path: path)
        #expect(try reopened.devices(DeviceFilter()).map(\.mac) == ["00156574b150"])
        #expect(try reopened.groups().map(\.name) == ["sales"])
        // A refused batch leaves the revision; a write from another connection moves it for this one too.
        #expect(try store.revision() == 1)
        try reopened.apply([.removeDevice(mac: "00156574b150"), .removeGroup(name: "sales")])
        #expect(try store.devices(DeviceFilter()).isEmpty && store.groups().isEmpty)
        #expect(try store.revision() == 2)
    }

    @Test("templates: a save whose text changed is a new version; the same text is not; the latest of each in layer order")
    func templateVersions() throws {
        let store = try SQLiteInventory(path: nil)
        try store.apply([.saveTemplate(.group("sales"), text: "#!version:1.0.0.1\n"), .saveTemplate(.defaults, text: "a\n"),
                         .saveTemplate(.device("00156574b150"), text: "d\n"), .saveTemplate(.model("T46S"), text: "m\n")])
        try store.apply([.saveTemplate(.defaults, text: "a\n")])
        try store.apply([.saveTemplate(.defaults, text: "b\n")])
        #expect(try store.templates().map(\.layer.path)
                    == ["defaults.cfg", "models/T46S.cfg", "groups/sales.cfg", "devices/00156574b150.cfg"])
        #expect(try store.versions(of: .defaults).map { "\($0.version):\($0.text)" } == ["1:a\n", "2:b\n"])
        #expect(try store.templates().first?.text == "b\n")
        #expect(TemplateLayer(path: "groups/sales.cfg") == .group("sales") && TemplateLayer(path: "other/x.cfg") == nil)
        #expect(TemplateLayer(path: "models/.cfg") == nil && TemplateLayer(path: "defaults.cfg") == .defaults)
    }
}
