import Foundation
import Logging
import Storage

/// Opens the stores a configuration names: PostgreSQL when `[store] url` is set (several nodes share it), else
/// SQLite in the data folder.
public enum Stores {
    /// The inventory: PostgreSQL at `url` (migrated on first use), else SQLite at `sqlitePath`.
    public static func inventory(url: String?, passwordFile: String?, sqlitePath: String,
                                 logger: Logger = Logger(label: "autoprov.store")) throws -> any InventoryStore {
        guard let url else { return try SQLiteInventory(path: sqlitePath) }
        let database = try PostgresDatabase(url: url, password: try password(file: passwordFile), logger: logger)
        do {
            return try PostgresInventory(database)
        } catch let error as PostgresStoreError {
            throw error
        } catch let error as StoreUnavailable {
            throw error
        } catch {
            throw PostgresStoreError("\(PostgresDatabase.redacted(url)): \(PostgresDatabase.describe(error))")
        }
    }

    /// The request log's store in the PostgreSQL at `url` (migrated on first use), on a connection of its own.
    public static func requestLog(url: String, passwordFile: String?,
                                  logger: Logger = Logger(label: "autoprov.store")) throws -> any RequestLogStore {
        let database = try PostgresDatabase(url: url, password: try password(file: passwordFile), logger: logger)
        do {
            return try PostgresRequestLog(database)
        } catch let error as PostgresStoreError {
            throw error
        } catch let error as StoreUnavailable {
            throw error
        } catch {
            throw PostgresStoreError("\(PostgresDatabase.redacted(url)): \(PostgresDatabase.describe(error))")
        }
    }

    /// The password for a URL that has none: the file's first line, else `PGPASSWORD`, else none.
    static func password(file: String?) throws -> String? {
        if let file {
            guard let text = FileManager.default.contents(atPath: file) else {
                throw PostgresStoreError("\(file): cannot read the store's password file")
            }
            return String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        }
        return ProcessInfo.processInfo.environment["PGPASSWORD"]
    }
}
