import Foundation
import NIOCore
import PostgresNIO
import Storage

/// Phones' uploads in PostgreSQL, bytes and earlier versions, so that an upload through any node is served by every
/// node (``SharedUploadStore``). A batch of uploads is one transaction; each path stored is announced on
/// ``channel`` when it commits. Its own connection: uploads never wait behind the inventory or the log.
public final class PostgresUploads: SharedUploadStore {
    let database: PostgresDatabase

    public init(_ database: PostgresDatabase) throws {
        self.database = database
        try database.migrate(PostgresUploads.migrations)
    }

    static let migrations: [(name: String, statements: [String])] = [
        ("uploads v1: bytes and versions", [
            """
            CREATE TABLE upload (id BIGSERIAL PRIMARY KEY, path TEXT COLLATE "C" NOT NULL, bytes BYTEA NOT NULL,
                md5 TEXT NOT NULL, stored DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX upload_path ON upload (path, id)",
        ]),
    ]

    /// The channel every stored upload is announced on, its path the payload.
    static let channel = "autoprov_uploads"
    var logger: Logger { database.logger }

    public func store(_ uploads: [(path: String, bytes: [UInt8])]) throws {
        guard !uploads.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        try database.transaction { connection in
            for upload in uploads {
                let bytes = ByteBuffer(bytes: upload.bytes)
                _ = try connection.query("""
                    INSERT INTO upload (path, bytes, md5, stored) VALUES (\(upload.path), \(bytes), md5(\(bytes)), \(now))
                    """, logger: logger).waited()
            }
            let paths = Array(Set(uploads.map(\.path))).sorted()
            // The current version and keptVersions before it stay; every node is told of each path on commit.
            _ = try connection.query("""
                DELETE FROM upload u USING (
                    SELECT id, row_number() OVER (PARTITION BY path ORDER BY id DESC) AS n
                    FROM upload WHERE path = ANY(\(paths))) old
                WHERE u.id = old.id AND old.n > \(keptVersions + 1)
                """, logger: logger).waited()
            _ = try connection.query(
                "SELECT pg_notify(\(PostgresUploads.channel), p) FROM unnest(\(paths)::text[]) p", logger: logger
            ).waited()
        }
    }

    public func digests() throws -> [String: String] {
        try database.withConnection { connection in
            var digests: [String: String] = [:]
            for row in try connection.query(
                "SELECT DISTINCT ON (path) path, md5 FROM upload ORDER BY path, id DESC", logger: logger
            ).waited() {
                let (path, md5) = try row.decode((String, String).self)
                digests[path] = md5
            }
            return digests
        }
    }

    public func current(_ path: String) throws -> [UInt8]? {
        try database.withConnection { connection in
            try connection.query("SELECT bytes FROM upload WHERE path = \(path) ORDER BY id DESC LIMIT 1", logger: logger)
                .waited().rows.first.map { Array(buffer: try $0.decode(ByteBuffer.self)) }
        }
    }

    public func history(of path: String) throws -> [UploadVersion] {
        let rows = try database.withConnection { connection in
            try connection.query("SELECT id, stored, bytes FROM upload WHERE path = \(path) ORDER BY id", logger: logger)
                .waited().rows.map { row in
                    let (id, stored, bytes) = try row.decode((Int64, Double, ByteBuffer).self)
                    return (id, stored, Array(buffer: bytes))
                }
        }
        // An earlier version is named by its row and dated by its replacement, as the upload folder dates them.
        return rows.enumerated().map { index, row in
            index == rows.count - 1 ? UploadVersion(id: "current", time: row.1, bytes: row.2)
                : UploadVersion(id: String(row.0), time: rows[index + 1].1, bytes: row.2)
        }
    }

    public func paths() throws -> [String] {
        try digests().keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    public func load(_ path: String, versions: [UploadVersion]) throws {
        guard !versions.isEmpty else { return }
        // A version is stored when the one before it was replaced (history dates an earlier version by that); the
        // first's own time is not known, and its replacement's stands for it. The current one keeps its own time,
        // which also dates the one before (the folder's two differ by the moment between a write and its rename).
        let stored = versions.indices.map { index in
            index == versions.count - 1 || index == 0 ? versions[index].time : versions[index - 1].time
        }
        try database.transaction { connection in
            for (version, time) in zip(versions, stored) {
                let bytes = ByteBuffer(bytes: version.bytes)
                _ = try connection.query("""
                    INSERT INTO upload (path, bytes, md5, stored) VALUES (\(path), \(bytes), md5(\(bytes)), \(time))
                    """, logger: logger).waited()
            }
            _ = try connection.query("SELECT pg_notify(\(PostgresUploads.channel), \(path))", logger: logger).waited()
        }
    }

    public func changes() -> AsyncStream<String?> {
        // A connection made (the first too): uploads stored while none listened are found by comparing every path.
        database.notifications(on: PostgresUploads.channel, what: "upload notifications", signalFirst: true)
    }
}
