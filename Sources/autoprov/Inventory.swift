import ArgumentParser
import Settings
import Foundation
import PostgresStore
import Inventory
import ProvisioningCore
import Storage

/// `autoprov device …`: the phones the inventory knows.
struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Add, change, list and remove the devices autoprov writes files for.",
        subcommands: [Add.self, Set.self, Unset.self, Remove.self, Show.self, List.self, Approve.self, Import.self, Export.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a device (a password of its own is made for it).")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "Its MAC, in any usual spelling.") var mac: String
        @Option(help: "Its model, as the catalog names it (T46S, T54W, …).") var model: String
        @Option(help: "A name people know it by.") var label = ""
        @Option(help: "A group it belongs to; repeat for several, in the order their settings apply.") var group: [String] = []
        @Option(name: .customLong("set"), help: "A variable, NAME=VALUE; repeat for several.") var variables: [String] = []
        @Option(help: "active, pending or disabled.") var state = InventoryDevice.State.active

        func run() throws {
            try reportingFailures {
                let device = InventoryDevice(
                    mac: try Inventory.mac(mac), model: try Inventory.model(model), label: label, state: state,
                    groups: try Inventory.groups(group), variables: try Inventory.assignments(variables),
                    password: InventoryNames.newPassword())
                try store.write([.addDevice(device)])
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set variables of a device.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The device's MAC.") var mac: String
        @Argument(help: "NAME=VALUE, one or more.") var assignments: [String]

        func run() throws {
            try reportingFailures {
                let inventory = try store.open()
                var device = try Inventory.existing(mac, in: inventory)
                device.variables.merge(try Inventory.assignments(assignments)) { _, new in new }
                try store.write(to: inventory, [.updateDevice(device)])
            }
        }
    }

    struct Unset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove variables from a device.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The device's MAC.") var mac: String
        @Argument(help: "Variable names, one or more.") var names: [String]

        func run() throws {
            try reportingFailures {
                let inventory = try store.open()
                var device = try Inventory.existing(mac, in: inventory)
                for name in names {
                    guard device.variables.removeValue(forKey: name) != nil else {
                        throw UsageFailure("device \(device.mac) has no variable '\(name)'")
                    }
                }
                try store.write(to: inventory, [.updateDevice(device)])
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a device.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The device's MAC.") var mac: String

        func run() throws {
            try reportingFailures { try store.write([.removeDevice(mac: try Inventory.mac(mac))]) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one device; secrets masked unless asked.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The device's MAC.") var mac: String
        @Flag(help: "Print secret variables and the device's password.") var withSecrets = false

        func run() throws {
            try reportingFailures {
                let device = try Inventory.existing(mac, in: try store.open())
                let secrets = try store.secrets()
                var rows = [["mac", device.mac], ["model", device.model], ["label", device.label],
                            ["state", device.state.rawValue], ["groups", device.groups.joined(separator: ", ")],
                            ["username", device.mac],
                            ["password", withSecrets ? device.password : SecretVariables.mask]]
                for (name, value) in device.variables.sorted(by: { $0.key < $1.key }) {
                    rows.append(["\(name)", secrets.shown(name, value, withSecrets: withSecrets)])
                }
                emit(table(rows))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices; secrets masked unless asked.")
        @OptionGroup var store: InventoryOptions
        @Option(help: "Only devices in this group.") var group: String?
        @Option(help: "Only devices of this model.") var model: String?
        @Option(help: "Only devices in this state (active, pending, disabled).") var state: InventoryDevice.State?
        @Option(help: "table, json or csv (the columns 'device import' reads).") var format = ListFormat.table
        @Flag(help: "Print secret variables and device passwords.") var withSecrets = false

        func run() throws {
            try reportingFailures {
                let filter = DeviceFilter(group: group, model: try model.map(Inventory.model), state: state)
                let devices = try store.open().devices(filter)
                emit(try Inventory.render(devices, format: format, secrets: try store.secrets(), withSecrets: withSecrets))
            }
        }
    }
}

extension DeviceCommand {
    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make pending devices active (all the MACs given, or none when one is unknown).")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "MACs, one or more.") var macs: [String]

        func run() throws {
            try reportingFailures {
                let inventory = try store.open()
                var changes: [InventoryChange] = []
                for mac in macs {
                    var device = try Inventory.existing(mac, in: inventory)
                    guard device.state != .active else { continue }
                    device.state = .active
                    changes.append(.updateDevice(device))
                }
                try store.write(to: inventory, changes)
                emit("\(changes.count) approved, \(macs.count - changes.count) already active\n")
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add and change devices from a CSV file, all or nothing.",
            discussion: """
                A header row, then one device per row: mac and model (required), label, groups (';' between names, \
                in order), state, and every other column a variable. Every problem is reported as FILE:LINE and \
                nothing is written. Groups the file names are created. A secret shown masked (********) keeps \
                its stored value, so importing an export changes nothing.
                """)
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The CSV file.") var file: String

        func run() throws {
            try reportingFailures {
                guard let data = FileManager.default.contents(atPath: file) else { throw UsageFailure("\(file): cannot read it") }
                let table: CSVTable
                do {
                    table = try CSVTable(parsing: String(decoding: data, as: UTF8.self))
                } catch {
                    throw UsageFailure("\(file):\(error)")
                }
                let inventory = try store.open()
                let plan: InventoryImport
                do {
                    plan = try InventoryImport(table, file: file, store: inventory, secrets: try store.secrets(),
                                               newPassword: InventoryNames.newPassword)
                } catch let refusal as InventoryImport.Refusal {
                    FileHandle.standardError.write(Data("\(refusal)\n".utf8))
                    throw UsageFailure("\(file): \(refusal.problems.count) problem(s); nothing was imported")
                }
                try store.write(to: inventory, plan.changes)
                var summary = "\(file): \(plan.added) added, \(plan.changed) changed, \(plan.unchanged) unchanged"
                if !plan.createdGroups.isEmpty { summary += "; groups created: \(plan.createdGroups.joined(separator: ", "))" }
                emit(summary + "\n")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every device as CSV, in the layout 'device import' reads; secrets masked unless asked.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The file to write; none: standard output.") var file: String?
        @Flag(help: "Write secret variables as they are.") var withSecrets = false

        func run() throws {
            try reportingFailures {
                let text = InventoryImport.csv(try store.open().devices(DeviceFilter()), secrets: try store.secrets(),
                                               withSecrets: withSecrets)
                guard let file else { return emit(text) }
                do {
                    try text.write(toFile: file, atomically: true, encoding: .utf8)
                } catch {
                    throw UsageFailure("\(file): cannot write it (\(error))")
                }
            }
        }
    }
}

/// `autoprov group …`: sets of devices that share template lines and variables.
struct GroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Add, change, list and remove device groups.",
        subcommands: [Add.self, Set.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a group.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "Its name: letters, digits, '.', '_' and '-'.") var name: String
        @Option(name: .customLong("set"), help: "A variable, NAME=VALUE; repeat for several.") var variables: [String] = []

        func run() throws {
            try reportingFailures {
                let group = InventoryGroup(name: try Inventory.groups([name])[0], variables: try Inventory.assignments(variables))
                try store.write([.addGroup(group)])
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set (NAME=VALUE) or remove (NAME=) variables of a group.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The group.") var name: String
        @Argument(help: "NAME=VALUE to set, NAME= to remove; one or more.") var assignments: [String]

        func run() throws {
            try reportingFailures {
                let inventory = try store.open()
                guard var group = try inventory.group(named: name) else { throw UsageFailure("\(InventoryError.noSuchGroup(name))") }
                for (key, value) in try Inventory.assignments(assignments) {
                    group.variables[key] = value.isEmpty ? nil : value
                }
                try store.write(to: inventory, [.updateGroup(group)])
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a group no device is in.")
        @OptionGroup var store: InventoryOptions
        @Argument(help: "The group.") var name: String

        func run() throws {
            try reportingFailures { try store.write([.removeGroup(name: name)]) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups, with their variables and device counts.")
        @OptionGroup var store: InventoryOptions
        @Flag(help: "Print secret variables.") var withSecrets = false

        func run() throws {
            try reportingFailures {
                let inventory = try store.open()
                let secrets = try store.secrets()
                let counts = try inventory.deviceCounts()
                var rows = [["GROUP", "DEVICES", "VARIABLES"]]
                for group in try inventory.groups() {
                    rows.append([group.name, String(counts[group.name] ?? 0), Inventory.variables(group.variables, secrets, withSecrets)])
                }
                emit(table(rows))
            }
        }
    }
}

/// Where the inventory is, and which variables are secret.
struct InventoryOptions: ParsableArguments {
    @Option(help: "The data folder.")
    var data = "autoprov-data"

    @Option(help: "autoprov.toml, for [inventory] secret_variables.")
    var config: String?

    /// The inventory: in the PostgreSQL the configuration's `[store] url` names, else in the data folder, made on
    /// first use.
    func open() throws -> any InventoryStore {
        let settings = try settings()
        guard let url = settings.storeURL else { return try openLocal() }
        do {
            return try Stores.inventory(url: url, passwordFile: settings.storePasswordFile, sqlitePath: "")
        } catch {
            throw UsageFailure("[store] url: \(error)")
        }
    }

    /// Administrators' accounts and tokens: beside the inventory, in PostgreSQL with `[store] url`, else in the data
    /// folder.
    func openAdmins() throws -> any AdminTokenStore & AdminUserStore {
        if let shared = try open() as? any AdminTokenStore & AdminUserStore { return shared }
        return try openLocal()
    }

    /// The data folder's own store (the inventory without `[store] url`).
    func openLocal() throws -> SQLiteInventory {
        do {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            return try SQLiteInventory(path: (data as NSString).appendingPathComponent("inventory.sqlite"))
        } catch {
            throw UsageFailure("\(data): cannot open the inventory (\(error))")
        }
    }

    /// The inventory when there is one (nil: nothing is made): PostgreSQL's, or the data folder's if it has one.
    func openExisting() throws -> (any InventoryStore)? {
        guard try settings().storeURL != nil
            || FileManager.default.fileExists(atPath: (data as NSString).appendingPathComponent("inventory.sqlite"))
        else { return nil }
        return try open()
    }

    /// Writes a batch of changes through the ``InventoryEditor`` every front-end uses; a refusal is the
    /// administrator's to fix: one line (exit 2), after each template problem as `TEMPLATE:LINE: problem (device MAC)`.
    func write(to inventory: (any InventoryStore)? = nil, _ changes: [InventoryChange]) throws {
        let editor = try editor(inventory)
        do {
            try editor.apply(changes)
        } catch InventoryEditor.Refusal.inventory(let refusal) {
            throw UsageFailure("\(refusal)")
        } catch InventoryEditor.Refusal.templates(let errors) {
            FileHandle.standardError.write(Data((errors.map(\.description).joined(separator: "\n") + "\n").utf8))
            throw UsageFailure("\(errors.count) template error(s) for the devices this changes; nothing was saved")
        } catch let refused as TemplateProblems {
            FileHandle.standardError.write(Data((refused.problems.map(\.description).joined(separator: "\n") + "\n").utf8))
            throw UsageFailure("\(refused.problems.count) template problem(s)")
        }
    }

    /// The writer every front-end shares, over this data folder and configuration.
    func editor(_ inventory: (any InventoryStore)? = nil) throws -> InventoryEditor {
        let settings = try settings()
        return InventoryEditor(store: try inventory ?? open(), configVariables: settings.inventoryVariables,
                               secretVariables: SecretVariables(patterns: settings.secretVariables),
                               serverURL: settings.templateServerURL)
    }

    /// The configuration file's settings, or the defaults without one.
    func settings() throws -> ServerConfiguration {
        guard let config else { return ServerConfiguration() }
        do {
            return try ServerConfiguration.load(file: config)
        } catch {
            throw UsageFailure("\(error)")
        }
    }

    func secrets() throws -> SecretVariables {
        SecretVariables(patterns: try settings().secretVariables)
    }

    /// The inventory ready to render (with `replacing` in place of stored templates); templates that do not compile
    /// are printed one per line, each as `TEMPLATE:LINE: problem`.
    func snapshot(_ inventory: any InventoryStore, replacing: [TemplateLayer: String] = [:],
                  naming: (TemplateProblem) -> String = \.description) throws -> InventorySnapshot {
        let settings = try settings()
        do {
            return try InventorySnapshot.load(from: inventory, configVariables: settings.inventoryVariables,
                                              secretVariables: SecretVariables(patterns: settings.secretVariables),
                                              replacing: replacing)
        } catch let refused as TemplateProblems {
            FileHandle.standardError.write(Data((refused.problems.map(naming).joined(separator: "\n") + "\n").utf8))
            throw UsageFailure("\(refused.problems.count) template problem(s)")
        }
    }
}

enum ListFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

extension InventoryDevice.State: ExpressibleByArgument {}

/// What the device and group commands share: checking what an administrator typed, and printing.
enum Inventory {
    static func mac(_ text: String) throws -> String {
        do { return try MACAddress(text).canonical } catch { throw UsageFailure("'\(text)': \(error)") }
    }

    /// The catalog's name for a model (R7.3 spellings accepted).
    static func model(_ text: String) throws -> String {
        guard let model = ModelCatalog.model(named: text) else {
            throw UsageFailure("'\(text)' is not a model autoprov knows (see the model catalog in the README)")
        }
        return model.name
    }

    static func groups(_ names: [String]) throws -> [String] {
        if let problem = names.lazy.compactMap(InventoryNames.groupNameProblem).first { throw UsageFailure(problem) }
        guard Swift.Set(names).count == names.count else { throw UsageFailure("a group is named twice") }
        return names
    }

    /// `NAME=VALUE` arguments as a dictionary; a name twice, a bad name or a built-in one is refused.
    static func assignments(_ texts: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for text in texts {
            guard let equals = text.firstIndex(of: "=") else { throw UsageFailure("'\(text)' is not NAME=VALUE") }
            let name = String(text[..<equals]), value = String(text[text.index(after: equals)...])
            if let problem = InventoryNames.variableNameProblem(name) { throw UsageFailure(problem) }
            guard result.updateValue(value, forKey: name) == nil else { throw UsageFailure("'\(name)' is set twice") }
        }
        return result
    }

    static func existing(_ mac: String, in inventory: any InventoryStore) throws -> InventoryDevice {
        let canonical = try Inventory.mac(mac)
        guard let device = try inventory.device(mac: canonical) else {
            throw UsageFailure("\(InventoryError.noSuchDevice(canonical))")
        }
        return device
    }

    static func variables(_ variables: [String: String], _ secrets: SecretVariables, _ withSecrets: Bool) -> String {
        variables.sorted { $0.key < $1.key }
            .map { "\($0.key)=\(secrets.shown($0.key, $0.value, withSecrets: withSecrets))" }.joined(separator: " ")
    }

    static func render(_ devices: [InventoryDevice], format: ListFormat, secrets: SecretVariables,
                       withSecrets: Bool) throws -> String {
        switch format {
        case .table:
            var rows = [["MAC", "MODEL", "LABEL", "STATE", "GROUPS", "VARIABLES"]]
            for device in devices {
                rows.append([device.mac, device.model, device.label, device.state.rawValue,
                             device.groups.joined(separator: ";"), variables(device.variables, secrets, withSecrets)])
            }
            return table(rows)
        case .json:
            struct Shown: Encodable {
                var mac, model, label, state: String
                var groups: [String]
                var variables: [String: String]
                var password: String?
            }
            let shown = devices.map { device in
                Shown(mac: device.mac, model: device.model, label: device.label, state: device.state.rawValue,
                      groups: device.groups,
                      variables: Dictionary(uniqueKeysWithValues: device.variables.map {
                          ($0.key, secrets.shown($0.key, $0.value, withSecrets: withSecrets))
                      }),
                      password: withSecrets ? device.password : nil)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return String(decoding: try encoder.encode(shown), as: UTF8.self) + "\n"
        case .csv:
            return InventoryImport.csv(devices, secrets: secrets, withSecrets: withSecrets)
        }
    }
}
