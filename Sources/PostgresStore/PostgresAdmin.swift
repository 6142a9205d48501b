import Foundation
import NIOCore
import PostgresNIO
import Storage

/// Administrators' tokens and accounts beside the inventory in PostgreSQL, as ``SQLiteInventory`` keeps them beside
/// its own: with `[store] url`, a token made or revoked through any node holds on every node from its next request.
extension PostgresInventory: AdminTokenStore, AdminUserStore {
    static let adminMigration: (name: String, statements: [String]) = ("admin v1: tokens and accounts", [
        """
        CREATE TABLE admin_token (name TEXT COLLATE "C" PRIMARY KEY, role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE,
            created DOUBLE PRECISION NOT NULL)
        """,
        """
        CREATE TABLE admin_user (name TEXT COLLATE "C" PRIMARY KEY, role TEXT NOT NULL, scheme TEXT NOT NULL,
            rounds INTEGER NOT NULL, salt BYTEA NOT NULL, hash BYTEA NOT NULL, created DOUBLE PRECISION NOT NULL)
        """,
    ])

    /// The rows of one statement, on the store's connection.
    private func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        try database.withConnection { try $0.query(query, logger: logger).waited().rows }
    }

    // MARK: Tokens

    public func addToken(_ token: AdminToken) throws {
        let added = try rows("""
            INSERT INTO admin_token (name, role, digest, created)
            VALUES (\(token.name), \(token.role.rawValue), \(token.digest), \(token.created))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """)
        guard !added.isEmpty else { throw AdminTokenError.exists(token.name) }
    }

    public func revokeToken(named name: String) throws {
        guard try !rows("DELETE FROM admin_token WHERE name = \(name) RETURNING name").isEmpty else {
            throw AdminTokenError.noSuchToken(name)
        }
    }

    public func token(digest: String) throws -> AdminToken? {
        try rows("SELECT name, role, digest, created FROM admin_token WHERE digest = \(digest)").first.map(Self.token)
    }

    public func tokens() throws -> [AdminToken] {
        try rows("SELECT name, role, digest, created FROM admin_token ORDER BY name").map(Self.token)
    }

    private static func token(_ row: PostgresRow) throws -> AdminToken {
        let (name, role, digest, created) = try row.decode((String, String, String, Double).self)
        return AdminToken(name: name, role: AdminRole(rawValue: role) ?? .read, digest: digest, created: created)
    }

    // MARK: Accounts

    public func addUser(_ user: AdminUser) throws {
        let added = try rows("""
            INSERT INTO admin_user (name, role, scheme, rounds, salt, hash, created)
            VALUES (\(user.name), \(user.role.rawValue), \(user.scheme), \(user.rounds), \(ByteBuffer(bytes: user.salt)),
                    \(ByteBuffer(bytes: user.hash)), \(user.created))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """)
        guard !added.isEmpty else { throw AdminUserError.exists(user.name) }
    }

    public func removeUser(named name: String) throws {
        guard try !rows("DELETE FROM admin_user WHERE name = \(name) RETURNING name").isEmpty else {
            throw AdminUserError.noSuchUser(name)
        }
    }

    public func user(named name: String) throws -> AdminUser? {
        try rows("SELECT name, role, scheme, rounds, salt, hash, created FROM admin_user WHERE name = \(name)")
            .first.map(Self.user)
    }

    public func users() throws -> [AdminUser] {
        try rows("SELECT name, role, scheme, rounds, salt, hash, created FROM admin_user ORDER BY name").map(Self.user)
    }

    private static func user(_ row: PostgresRow) throws -> AdminUser {
        let (name, role, scheme, rounds, salt, hash, created) = try row.decode(
            (String, String, String, Int, ByteBuffer, ByteBuffer, Double).self)
        return AdminUser(name: name, role: AdminRole(rawValue: role) ?? .read, scheme: scheme, rounds: rounds,
                         salt: Array(salt.readableBytesView), hash: Array(hash.readableBytesView), created: created)
    }
}
