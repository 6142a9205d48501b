import ArgumentParser
import FileService
import Foundation
import PostgresStore
import Storage

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Move an installation between stores (a data folder, PostgreSQL for several nodes).",
        subcommands: [Migrate.self])

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the inventory, accounts and uploads from one store into another, which must hold none yet.",
            discussion: """
                A store is sqlite:PATH (a data folder's inventory.sqlite) or postgresql://USER@HOST[:PORT]/DATABASE. \
                Every device, group, template version (removed ones too, with their times), what each device was last \
                told, the revision, administrators' accounts and API tokens, the phones' uploads with their versions \
                (a data folder's uploads/ beside its inventory.sqlite), the request log, the devices seen and the \
                DHCP leases (its autoprov.sqlite) are copied as they are; each copy is then read back and compared, \
                and the command fails unless it is the same. Either direction works.
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
                    let (sourceUploads, targetUploads) = (try uploads(from), try uploads(to))
                    guard try targetUploads.paths().isEmpty else {
                        throw UsageFailure("\(PostgresDatabase.redacted(to)): the store to copy into already holds uploads")
                    }
                    if let log = try requestLog(to), try !log.devices().isEmpty
                        || !log.requests(mac: nil, protocolName: nil, since: nil, limit: 1).isEmpty || !log.leases().isEmpty {
                        throw UsageFailure("\(PostgresDatabase.redacted(to)): the store to copy into already holds a request log")
                    }
                    let dump = try source.dump()
                    try target.load(dump)
                    guard try target.dump() == dump else { throw differs("inventory") }
                    let (accounts, tokens) = try copyAdministrators(source, target)
                    var versions = 0
                    let paths = try sourceUploads.paths()
                    for path in paths {
                        let history = try sourceUploads.history(of: path)
                        try targetUploads.load(path, versions: history)
                        guard Self.alike(try targetUploads.history(of: path), history) else { throw differs("upload \(path)") }
                        versions += history.count
                    }
                    let (requests, seen, leases) = try copyLog(try requestLog(from), try requestLog(to))
                    emit("copied \(dump.devices.count) devices, \(dump.groups.count) groups, \(dump.templates.count) "
                         + "template versions, \(dump.notified.count) notified devices; revision \(dump.revision); "
                         + "\(accounts) accounts, \(tokens) tokens; \(paths.count) uploads (\(versions) versions); "
                         + "\(requests) requests, \(seen) devices seen, \(leases) leases\n")
                } catch let failure as UsageFailure {
                    throw failure
                } catch {
                    throw UsageFailure("\(error)")
                }
            }
        }

        private func differs(_ what: String) -> UsageFailure {
            UsageFailure("\(PostgresDatabase.redacted(to)): the copy of the \(what) read back differs from \(PostgresDatabase.redacted(from))")
        }

        /// Accounts and tokens, where both stores keep them (both kinds do): how many of each were copied.
        private func copyAdministrators(_ source: any InventoryStore, _ target: any InventoryStore) throws -> (Int, Int) {
            guard let source = source as? any AdminTokenStore & AdminUserStore,
                  let target = target as? any AdminTokenStore & AdminUserStore else { return (0, 0) }
            let (users, tokens) = (try source.users(), try source.tokens())
            for user in users { try target.addUser(user) }
            for token in tokens { try target.addToken(token) }
            guard Set(try target.users()) == Set(users) else { throw differs("accounts") }
            guard Set(try target.tokens()) == Set(tokens) else { throw differs("tokens") }
            return (users.count, tokens.count)
        }

        /// The request log beside a store: a data folder's `autoprov.sqlite` (none when it has never served), or
        /// PostgreSQL's.
        private func requestLog(_ location: String) throws -> (any RequestLogStore)? {
            if location.hasPrefix("sqlite:") {
                let file = URL(fileURLWithPath: String(location.dropFirst("sqlite:".count)))
                    .deletingLastPathComponent().appendingPathComponent("autoprov.sqlite").path
                guard location == to || FileManager.default.fileExists(atPath: file) else { return nil }
                do { return try SQLiteRequestLog(path: file) } catch { throw UsageFailure("\(file): \(error)") }
            }
            do {
                return try Stores.requestLog(url: location, passwordFile: passwordFile)
            } catch {
                throw UsageFailure("\(error)")
            }
        }

        /// Every request (oldest first, in batches), every device seen and every lease, read back and compared: how
        /// many of each.
        private func copyLog(_ source: (any RequestLogStore)?, _ target: (any RequestLogStore)?) throws -> (Int, Int, Int) {
            guard let source, let target else { return (0, 0, 0) }
            func all(_ store: any RequestLogStore) throws -> [RequestRecord] {
                try store.requests(mac: nil, protocolName: nil, since: nil, limit: Int.max).reversed().map { record in
                    var record = record
                    record.id = nil
                    return record
                }
            }
            let requests = try all(source)
            var start = 0
            while start < requests.count {
                let batch = Array(requests[start..<min(start + 10_000, requests.count)])
                try target.write(requests: batch, order: Array(batch.indices), devices: [:])
                start += batch.count
            }
            let devices = try source.devices()
            try target.write(requests: [], order: [], devices: Dictionary(uniqueKeysWithValues: devices.map { device in
                (device.mac, DeviceUpdate(firstTime: device.firstSeen, lastTime: device.lastSeen, client: device.address,
                                          path: device.lastPath, result: device.lastResult, model: device.model,
                                          firmware: device.firmware))
            }))
            let leases = try source.leases()
            for lease in leases { try target.saveLease(lease) }
            guard try all(target) == requests else { throw differs("request log") }
            guard Set(try target.devices()) == Set(devices) else { throw differs("devices seen") }
            guard Set(try target.leases()) == Set(leases) else { throw differs("leases") }
            return (requests.count, devices.count, leases.count)
        }

        /// The uploads beside a store: a data folder's `uploads/` (beside its `inventory.sqlite`), or PostgreSQL's.
        private func uploads(_ location: String) throws -> any UploadArchive {
            if location.hasPrefix("sqlite:") {
                let file = URL(fileURLWithPath: String(location.dropFirst("sqlite:".count)))
                return UploadStore(directory: file.deletingLastPathComponent().appendingPathComponent("uploads"))
            }
            do {
                return try Stores.uploads(url: location, passwordFile: passwordFile)
            } catch {
                throw UsageFailure("\(error)")
            }
        }

        /// The same versions in the same order: the same bytes, and times within a second (a folder dates an
        /// earlier version by its replacement and the current one by its write, a moment apart).
        static func alike(_ copied: [UploadVersion], _ original: [UploadVersion]) -> Bool {
            copied.count == original.count && zip(copied, original).allSatisfy { pair in
                pair.0.bytes == pair.1.bytes && abs(pair.0.time - pair.1.time) < 1 && (pair.0.id == "current") == (pair.1.id == "current")
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
