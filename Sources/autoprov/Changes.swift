import ArgumentParser
import Foundation
import Inventory
import Storage

/// `autoprov changes`: the devices a change reached, found by rendering.
struct Changes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the devices whose generated files changed since they were last told to provision.",
        discussion: """
            Renders every device's files and compares their MD5s with those it had when 'autoprov notify' last \\
            reached it (a device never reached is 'new'), so an edit that changes no byte of a device's files \\
            does not list it. 'autoprov notify --changed' tells exactly these devices. --acknowledge records \\
            the files as they are now without telling anyone (a starting point after a first import).
            """)
    @OptionGroup var store: InventoryOptions
    @Option(help: "Output: table or json.") var format: Format = .table
    @Flag(help: "Record every listed device as told, without notifying it.") var acknowledge = false

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    func run() throws {
        try reportingFailures {
            let inventory = try store.open()
            let changed = try Changes.list(inventory, store: store)
            if acknowledge {
                try inventory.recordNotified(Dictionary(uniqueKeysWithValues: changed.map { ($0.mac, $0.digest.text) }))
                emit("\(changed.count) device(s) acknowledged\n")
                return
            }
            switch format {
            case .json:
                let objects = changed.map { ["mac": $0.mac, "model": $0.model, "new": $0.isNew, "files": $0.files] as [String: Any] }
                let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
                emit(String(decoding: data, as: UTF8.self) + "\n")
            case .table:
                var rows = [["MAC", "MODEL", "CHANGE", "FILES"]]
                for device in changed {
                    rows.append([device.mac, device.model, device.isNew ? "new" : "changed", device.files.joined(separator: " ")])
                }
                emit(table(rows) + "\(changed.count) device(s) changed since they were last told\n")
            }
        }
    }

    /// The changed set of the inventory, as `changes` and `notify --changed` see it.
    static func list(_ inventory: any InventoryStore, store: InventoryOptions) throws -> [ChangedDevice] {
        try store.snapshot(inventory).changes(since: try inventory.notified(), serverURL: try store.settings().templateServerURL)
    }
}
