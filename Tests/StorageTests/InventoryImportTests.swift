import ProvisioningCore
@testable import Storage
import Testing

/// `device import` decided in-process against an SQLite store in memory.
@Suite("Inventory import: all or nothing, FILE:LINE problems, an export imports as no change", .timeLimit(.minutes(2)))
struct InventoryImportTests {
    func plan(_ text: String, _ store: SQLiteInventory) throws -> InventoryImport {
        try InventoryImport(try CSVTable(parsing: text), file: "fleet.csv", store: store, secrets: SecretVariables(),
                            newPassword: { "fresh-password" })
    }

    @Test("rows add devices, change those that differ, leave the rest; groups named are created first")
    func addChangeKeep() throws {
        let store = try SQLiteInventory(path: nil)
        let first = try plan("""
            mac,model,label,groups,state,ext,sip_password
            00:15:65:00:00:01,SIP-T46S,Desk,sales;floor2,,201,s3cret
            001565000002,T54W,,,pending,,
            """, store)
        #expect(first.added == 2 && first.createdGroups == ["sales", "floor2"])
        try store.apply(first.changes)
        let device = try #require(try store.device(mac: "001565000001"))
        #expect(device.model == "T46S" && device.groups == ["sales", "floor2"] && device.state == .active)
        #expect(device.variables == ["ext": "201", "sip_password": "s3cret"] && device.password == "fresh-password")
        // The export, secrets masked, imports as no change at all.
        let export = InventoryImport.csv(try store.devices(DeviceFilter()), secrets: SecretVariables(), withSecrets: false)
        #expect(export.contains("********") && !export.contains("s3cret"))
        let again = try plan(export, store)
        #expect(again.changes.isEmpty && again.unchanged == 2 && again.added == 0 && again.changed == 0)
        // A changed cell changes that device only; a masked secret keeps its value.
        let edited = try plan(export.replacingOccurrences(of: "201", with: "202"), store)
        #expect(edited.changed == 1 && edited.unchanged == 1)
        try store.apply(edited.changes)
        #expect(try store.device(mac: "001565000001")?.variables == ["ext": "202", "sip_password": "s3cret"])
    }

    @Test("every bad row is reported as FILE:LINE, and nothing is planned")
    func refusals() throws {
        let store = try SQLiteInventory(path: nil)
        let text = """
            mac,model,groups,ext,sip_password
            001565000001,T46S,,1,
            00156500000,T46S,,1,
            001565000003,T99X,,1,
            001565000001,T46S,,1,
            001565000004,T46S,,1
            001565000005,T46S,bad group,1,
            001565000006,T46S,,1,********
            """
        do {
            _ = try plan(text, store)
            Issue.record("a bad file was accepted")
        } catch let refusal as InventoryImport.Refusal {
            #expect(refusal.problems == [
                "fleet.csv:3: '00156500000' is not a MAC address",
                "fleet.csv:4: 'T99X' is not a model autoprov knows",
                "fleet.csv:5: 001565000001 is also on line 2",
                "fleet.csv:6: 4 fields; the header has 5",
                "fleet.csv:7: 'bad group' is not a group name",
                "fleet.csv:8: 'sip_password' is masked (********); export with --with-secrets to carry secrets",
            ])
        }
        for (header, message) in [("model,label", "fleet.csv:1: no 'mac' column"),
                                  ("mac,model,mac", "fleet.csv:1: column 'mac' appears twice"),
                                  ("mac,model,server_url", "fleet.csv:1: column 'server_url' is a built-in variable; it cannot be set"),
                                  ("mac,model,a.b", "fleet.csv:1: column 'a.b' is not a variable name: a letter or '_', then letters, digits and '_'")] {
            #expect(throws: InventoryImport.Refusal.self) { try plan(header + "\n", store) }
            do { _ = try plan(header + "\n", store) } catch let refusal as InventoryImport.Refusal {
                #expect(refusal.problems.contains(message), "\(refusal)")
            }
        }
        #expect(try store.devices(DeviceFilter()).isEmpty && store.groups().isEmpty)
    }
}
