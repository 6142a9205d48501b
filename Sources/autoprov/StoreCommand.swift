import ArgumentParser
import Foundation
import PostgresStore
import Storage

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Move the inventory between stores (SQLite in a data folder, PostgreSQL for several nodes).",
        subcommands: [Migrate.self])

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the inventory from one store into another, which must hold none yet.",
            discussion: """
                A store is sqlite:PATH (a data folder's inventory.sqlite) or postgresql://USER@HOST[:PORT]/DATABASE. \
                Every device, group, template version (removed ones too, with their times), what each device was last \
                told, and the revision are copied as they are; the copy is then read back and compared, and the \
                command fails unless it is the same. Either direction works.
                """)

        @Option(help: "The store to copy from: sqlite:PATH or a postgresql:// URL.")
        var from: String

        @Option(help: "The store to copy into (it must hold no inventory): sqlite:PATH or a postgresql:// URL.")
        var to: String

        @Option(help: "A file whose first line is the password for a postgresql:// URL without one (else PGPASSWORD).")
        var passwordFile: String?

        func run() throws {
            try reportingFailures {
                let source = try open(from, mustExist: true)
                let target = try open(to, mustExist: false)
                do {
                    let dump = try source.dump()
                    try target.load(dump)
                    guard try target.dump() == dump else {
                        throw UsageFailure("\(PostgresDatabase.redacted(to)): the copy read back differs from \(PostgresDatabase.redacted(from))")
                    }
                    emit("copied \(dump.devices.count) devices, \(dump.groups.count) groups, \(dump.templates.count) "
                         + "template versions, \(dump.notified.count) notified devices; revision \(dump.revision)\n")
                } catch let failure as UsageFailure {
                    throw failure
                } catch {
                    throw UsageFailure("\(error)")
                }
            }
        }

        private func open(_ location: String, mustExist: Bool) throws -> any InventoryStore {
            if location.hasPrefix("sqlite:") {
                let path = String(location.dropFirst("sqlite:".count))
                guard !mustExist || FileManager.default.fileExists(atPath: path) else { throw UsageFailure("\(path): no such file") }
                do { return try SQLiteInventory(path: path) } catch { throw UsageFailure("\(path): \(error)") }
            }
            guard location.hasPrefix("postgresql://") || location.hasPrefix("postgres://") else {
                throw UsageFailure("\(location): not sqlite:PATH or a postgresql:// URL")
            }
            do {
                return try Stores.inventory(url: location, passwordFile: passwordFile, sqlitePath: "")
            } catch {
                throw UsageFailure("\(error)")
            }
        }
    }
}
