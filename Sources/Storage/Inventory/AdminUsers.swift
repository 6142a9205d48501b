import Foundation
import GRDB

/// An administrator's account for the console: a name, a role, and a salted slow hash of the password (PBKDF2,
/// with its own salt and round count, so that the cost can be raised without invalidating old accounts).
public struct AdminUser: Sendable, Hashable {
    public var name: String
    public var role: AdminRole
    /// `pbkdf2-sha256`.
    public var scheme: String
    public var rounds: Int
    public var salt: [UInt8]
    public var hash: [UInt8]
    public var created: Double

    public init(name: String, role: AdminRole, scheme: String, rounds: Int, salt: [UInt8], hash: [UInt8], created: Double) {
        self.name = name
        self.role = role
        self.scheme = scheme
        self.rounds = rounds
        self.salt = salt
        self.hash = hash
        self.created = created
    }
}

/// Why an account change was refused.
public enum AdminUserError: Error, Sendable, Hashable, CustomStringConvertible {
    case exists(String)
    case noSuchUser(String)

    public var description: String {
        switch self {
        case .exists(let name): "an account named '\(name)' already exists"
        case .noSuchUser(let name): "no account named '\(name)'"
        }
    }
}

/// Where administrators' accounts are kept, beside the inventory.
public protocol AdminUserStore: Sendable {
    func addUser(_ user: AdminUser) throws
    func removeUser(named name: String) throws
    func user(named name: String) throws -> AdminUser?
    func users() throws -> [AdminUser]
}

extension SQLiteInventory: AdminUserStore {
    static func registerUserMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7: administrators' accounts") { db in
            try db.execute(sql: """
                CREATE TABLE adminUser (name TEXT PRIMARY KEY, role TEXT NOT NULL, scheme TEXT NOT NULL,
                                        rounds INTEGER NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,
                                        created REAL NOT NULL)
                """)
        }
    }

    public func addUser(_ user: AdminUser) throws {
        try database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM adminUser WHERE name = ?", arguments: [user.name]) == 0
            else { throw AdminUserError.exists(user.name) }
            try db.execute(sql: """
                INSERT INTO adminUser (name, role, scheme, rounds, salt, hash, created) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [user.name, user.role.rawValue, user.scheme, user.rounds, Data(user.salt), Data(user.hash),
                                 user.created])
        }
    }

    public func removeUser(named name: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM adminUser WHERE name = ?", arguments: [name])
            guard db.changesCount > 0 else { throw AdminUserError.noSuchUser(name) }
        }
    }

    public func user(named name: String) throws -> AdminUser? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM adminUser WHERE name = ?", arguments: [name]).map(Self.user)
        }
    }

    public func users() throws -> [AdminUser] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM adminUser ORDER BY name").map(Self.user) }
    }

    private static func user(_ row: Row) -> AdminUser {
        AdminUser(name: row["name"], role: AdminRole(rawValue: row["role"]) ?? .read, scheme: row["scheme"],
                  rounds: row["rounds"], salt: Array(row["salt"] as Data), hash: Array(row["hash"] as Data),
                  created: row["created"])
    }
}
