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
        return try open(url, passwordFile: passwordFile, logger: logger, PostgresInventory.init)
    }

    /// The request log's store in the PostgreSQL at `url` (migrated on first use), on a connection of its own.
    public static func requestLog(url: String, passwordFile: String?,
                                  logger: Logger = Logger(label: "autoprov.store")) throws -> any RequestLogStore {
        try open(url, passwordFile: passwordFile, logger: logger, PostgresRequestLog.init)
    }

    /// The phones' uploads in the PostgreSQL at `url` (migrated on first use), on a connection of its own.
    public static func uploads(url: String, passwordFile: String?,
                               logger: Logger = Logger(label: "autoprov.store")) throws -> any SharedUploadStore {
        try open(url, passwordFile: passwordFile, logger: logger, PostgresUploads.init)
    }

    /// A store on a new connection to `url`; what fails is said with the URL, its password left out.
    private static func open<Store>(_ url: String, passwordFile: String?, logger: Logger,
                                    _ make: (PostgresDatabase) throws -> Store) throws -> Store {
        let database = try PostgresDatabase(url: url, password: try password(file: passwordFile), logger: logger)
        do {
            return try make(database)
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
