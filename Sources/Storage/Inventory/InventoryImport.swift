import Foundation
import ProvisioningCore

/// What `device import` makes of a CSV file, checked whole against the store before anything is written: a header
/// row (`mac` and `model` required; `label`, `groups` with `;` between names in order, `state`; every other column a
/// variable), then one device per row. A device already in the store is changed to what its row says; one whose row
/// says what it already has is left alone, so importing an exported file changes nothing. A secret shown masked
/// (`********`, an export without `--with-secrets`) keeps the value the store has. A `password` column (written by
/// an export with `--with-secrets`) sets each device's own password; empty, the device keeps its own (or a new
/// device gets a new one).
public struct InventoryImport: Sendable {
    /// Every problem found, each `FILE:LINE: problem`; nothing is written when there is one.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var problems: [String]
        public var description: String { problems.joined(separator: "\n") }
    }

    /// The changes to apply, groups first.
    public private(set) var changes: [InventoryChange] = []
    public private(set) var added = 0
    public private(set) var changed = 0
    public private(set) var unchanged = 0
    /// Groups rows named that did not exist: they are created, without variables.
    public private(set) var createdGroups: [String] = []

    static let fixedColumns = ["mac", "model", "label", "groups", "state"]
    /// The device's own password (its user name is its MAC): exported only with secrets.
    static let passwordColumn = "password"

    public init(_ table: CSVTable, file: String, store: any InventoryStore, secrets: SecretVariables,
                newPassword: () -> String) throws {
        var problems: [String] = []
        func problem(_ line: Int, _ message: String) { problems.append("\(file):\(line): \(message)") }
        guard let header = table.rows.first else { throw Refusal(problems: ["\(file):1: no header row"]) }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var seen = Set<String>()
        for name in names {
            if !seen.insert(name).inserted { problem(header.line, "column '\(name)' appears twice") }
            if !InventoryImport.fixedColumns.contains(name), name != InventoryImport.passwordColumn {
                if InventoryNames.builtInVariables.contains(name) {
                    problem(header.line, "column '\(name)' is a built-in variable; it cannot be set")
                } else if !InventoryNames.isVariableName(name) {
                    problem(header.line, "column '\(name)' is not a variable name: a letter or '_', then letters, digits and '_'")
                }
            }
        }
        for required in ["mac", "model"] where !names.contains(required) { problem(header.line, "no '\(required)' column") }
        guard problems.isEmpty else { throw Refusal(problems: problems) }

        let existingGroups = Set(try store.groups().map(\.name))
        // One read of the whole inventory, not one per row (an import of 100,000 rows).
        let existingDevices = Dictionary(uniqueKeysWithValues: try store.devices(DeviceFilter()).map { ($0.mac, $0) })
        var newGroups: [String] = []
        var lines: [String: Int] = [:]
        var deviceChanges: [InventoryChange] = []
        for row in table.rows.dropFirst() {
            guard row.fields.count == names.count else {
                problem(row.line, "\(row.fields.count) fields; the header has \(names.count)")
                continue
            }
            var cells: [String: String] = [:]
            for (name, value) in zip(names, row.fields) { cells[name] = value }
            let macText = cells["mac"]!.trimmingCharacters(in: .whitespaces)
            guard let mac = try? MACAddress(macText).canonical else {
                problem(row.line, "'\(macText)' is not a MAC address")
                continue
            }
            if let first = lines[mac] {
                problem(row.line, "\(mac) is also on line \(first)")
                continue
            }
            lines[mac] = row.line
            let modelText = cells["model"]!.trimmingCharacters(in: .whitespaces)
            guard let model = ModelCatalog.model(named: modelText)?.name else {
                problem(row.line, "'\(modelText)' is not a model autoprov knows")
                continue
            }
            let existing = existingDevices[mac]
            var state = existing?.state ?? .active
            if let text = cells["state"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                guard let parsed = InventoryDevice.State(rawValue: text) else {
                    problem(row.line, "'\(text)' is not a state (active, pending, disabled)")
                    continue
                }
                state = parsed
            }
            let groups = (cells["groups"] ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            if let bad = groups.first(where: { !InventoryNames.isGroupName($0) }) {
                problem(row.line, "'\(bad)' is not a group name")
                continue
            }
            guard Set(groups).count == groups.count else {
                problem(row.line, "a group is named twice")
                continue
            }
            for group in groups where !existingGroups.contains(group) && !newGroups.contains(group) { newGroups.append(group) }
            var variables: [String: String] = [:]
            var masked = false
            for name in names where !InventoryImport.fixedColumns.contains(name) && name != InventoryImport.passwordColumn {
                guard let value = cells[name], !value.isEmpty else { continue }
                if value == SecretVariables.mask, secrets.isSecret(name) {
                    guard let kept = existing?.variables[name] else {
                        problem(row.line, "'\(name)' is masked (\(SecretVariables.mask)); export with --with-secrets to carry secrets")
                        masked = true
                        continue
                    }
                    variables[name] = kept
                } else {
                    variables[name] = value
                }
            }
            if masked { continue }
            let label = cells["label"] ?? existing?.label ?? ""
            let password = cells[InventoryImport.passwordColumn].flatMap { $0.isEmpty || $0 == SecretVariables.mask ? nil : $0 }
            if var device = existing {
                let before = device
                device.password = password ?? device.password
                device.model = model
                device.label = label
                device.state = state
                device.groups = groups
                device.variables = variables
                if device == before {
                    unchanged += 1
                } else {
                    changed += 1
                    deviceChanges.append(.updateDevice(device))
                }
            } else {
                added += 1
                deviceChanges.append(.addDevice(InventoryDevice(mac: mac, model: model, label: label, state: state,
                                                                groups: groups, variables: variables,
                                                                password: password ?? newPassword())))
            }
        }
        guard problems.isEmpty else { throw Refusal(problems: problems) }
        createdGroups = newGroups
        changes = newGroups.map { .addGroup(InventoryGroup(name: $0)) } + deviceChanges
    }

    /// The devices as CSV in the layout ``InventoryImport`` reads; secrets masked unless `withSecrets`, which also
    /// adds each device's own password (for the site's redirection service or activation codes).
    public static func csv(_ devices: [InventoryDevice], secrets: SecretVariables, withSecrets: Bool) -> String {
        let variables = Set(devices.flatMap(\.variables.keys)).sorted()
        var rows = [fixedColumns + (withSecrets ? [passwordColumn] : []) + variables]
        for device in devices {
            rows.append([device.mac, device.model, device.label, device.groups.joined(separator: ";"), device.state.rawValue]
                + (withSecrets ? [device.password] : [])
                + variables.map { name in device.variables[name].map { secrets.shown(name, $0, withSecrets: withSecrets) } ?? "" })
        }
        return CSVTable.text(rows)
    }
}
