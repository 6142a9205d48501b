import Foundation
import GRDB

/// What an administrator's token or account may do.
public enum AdminRole: String, Sendable, Hashable, Codable, CaseIterable {
    /// Reads everything but secrets.
    case read
    /// Reads and writes; may ask for secrets.
    case write
}

/// An API token as stored: its name, role and the SHA-256 of the token (the token itself is shown once, at
/// creation, and never kept).
public struct AdminToken: Sendable, Hashable {
    public var name: String
    public var role: AdminRole
    /// Lower-case hex SHA-256 of the token's text.
    public var digest: String
    public var created: Double

    public init(name: String, role: AdminRole, digest: String, created: Double) {
        self.name = name
        self.role = role
        self.digest = digest
        self.created = created
    }
}

/// Why a token change was refused.
public enum AdminTokenError: Error, Sendable, Hashable, CustomStringConvertible {
    case exists(String)
    case noSuchToken(String)

    public var description: String {
        switch self {
        case .exists(let name): "a token named '\(name)' already exists (revoke it first)"
        case .noSuchToken(let name): "no token named '\(name)'"
        }
    }
}

/// Where API tokens are kept, beside the inventory they give access to.
public protocol AdminTokenStore: Sendable {
    func addToken(_ token: AdminToken) throws
    /// Removes the token of that name; its holder is refused from the next request on.
    func revokeToken(named name: String) throws
    func token(digest: String) throws -> AdminToken?
    func tokens() throws -> [AdminToken]
}

extension SQLiteInventory: AdminTokenStore {
    static func registerAdminMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5: API tokens") { db in
            try db.execute(sql: """
                CREATE TABLE adminToken (name TEXT PRIMARY KEY, role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE,
                                         created REAL NOT NULL)
                """)
        }
    }

    public func addToken(_ token: AdminToken) throws {
        try database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM adminToken WHERE name = ?", arguments: [token.name]) == 0
            else { throw AdminTokenError.exists(token.name) }
            try db.execute(sql: "INSERT INTO adminToken (name, role, digest, created) VALUES (?, ?, ?, ?)",
                           arguments: [token.name, token.role.rawValue, token.digest, token.created])
        }
    }

    public func revokeToken(named name: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM adminToken WHERE name = ?", arguments: [name])
            guard db.changesCount > 0 else { throw AdminTokenError.noSuchToken(name) }
        }
    }

    public func token(digest: String) throws -> AdminToken? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM adminToken WHERE digest = ?", arguments: [digest]).map(Self.token)
        }
    }

    public func tokens() throws -> [AdminToken] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM adminToken ORDER BY name").map(Self.token) }
    }

    private static func token(_ row: Row) -> AdminToken {
        AdminToken(name: row["name"], role: AdminRole(rawValue: row["role"]) ?? .read, digest: row["digest"],
                   created: row["created"])
    }
}
