import Foundation
import PostgresNIO
@testable import PostgresStore
import TestSupport
import Storage
import Testing

/// How a `[store] url` reaches PostgreSQL: `sslmode` as libpq reads it, against a throwaway cluster that speaks TLS
/// with a self-signed certificate.
@Suite("PostgreSQL connections: sslmode as libpq reads it", .serialized, .timeLimit(.minutes(5)))
struct PostgresConnectionTests {
    /// Whether the connection a URL makes is encrypted, as the server sees it.
    func encrypted(_ url: String) throws -> Bool {
        let database = try PostgresDatabase(url: url)
        defer { database.close() }
        return try database.withConnection { connection in
            try connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: database.logger)
                .waited().rows.first.map { try $0.decode(Bool.self) } ?? false
        }
    }

    @Test("disable: plain; prefer and require: encrypted without checking the certificate; verify-ca and verify-full: checked against sslrootcert, refused without it")
    func sslModes() async throws {
        try await onOwnThread {
            let cluster = try ThrowawayPostgres(tls: true)
            defer { cluster.stop() }
            try cluster.createDatabase("fleet")
            let base = "postgresql://autoprov@127.0.0.1:\(cluster.port)/fleet?sslmode="
            #expect(try !encrypted(base + "disable"))
            #expect(try encrypted(base + "prefer"))
            #expect(try encrypted(base + "require"))
            #expect(try encrypted(base + "verify-ca&sslrootcert=\(cluster.certificate)"))
            #expect(try encrypted(base + "verify-full&sslrootcert=\(cluster.certificate)"))
            // The self-signed certificate is in no system trust store.
            #expect(throws: StoreUnavailable.self) { try encrypted(base + "verify-full") }
            #expect(throws: PostgresStoreError.self) { try PostgresDatabase(url: base + "sometimes") }
            #expect(throws: PostgresStoreError.self) { try PostgresDatabase(url: "mysql://autoprov@127.0.0.1/fleet") }
        }
    }

    @Test("a password from [store] password_file when the URL has none, or from the URL; a wrong one is refused, naming the store without the password")
    func passwordFile() async throws {
        try await onOwnThread {
            let cluster = try ThrowawayPostgres(password: "s3cret-pw")
            defer { cluster.stop() }
            try cluster.createDatabase("fleet")
            let url = cluster.url("fleet")
            let file = cluster.directory.appendingPathComponent("pgpass").path
            try "s3cret-pw\n".write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try Stores.inventory(url: url, passwordFile: file, sqlitePath: "").revision() == 0)
            let inURL = url.replacingOccurrences(of: "autoprov@", with: "autoprov:s3cret-pw@")
            #expect(try Stores.inventory(url: inURL, passwordFile: nil, sqlitePath: "").revision() == 0)
            try "wrong\n".write(toFile: file, atomically: true, encoding: .utf8)
            let refused = #expect(throws: StoreUnavailable.self) { try Stores.inventory(url: url, passwordFile: file, sqlitePath: "") }
            #expect(refused.map { $0.description.contains("127.0.0.1:\(cluster.port)/fleet")
                                  && $0.description.contains("password authentication failed") } == true,
                    "\(String(describing: refused))")
            let wrongInURL = url.replacingOccurrences(of: "autoprov@", with: "autoprov:wrong-pw@")
            let named = #expect(throws: StoreUnavailable.self) { try Stores.inventory(url: wrongInURL, passwordFile: nil, sqlitePath: "") }
            #expect(named.map { !$0.description.contains("wrong-pw") && $0.description.contains("***") } == true)
            #expect(throws: PostgresStoreError.self) { try Stores.inventory(url: url, passwordFile: "/nonexistent/pgpass", sqlitePath: "") }
        }
    }

    @Test("a COPY on a connection that has closed under it fails within its limit instead of waiting forever")
    func copyOnClosedConnection() async throws {
        try await onOwnThread {
            let scratch = try ScratchDatabase(.postgresql, name: "log")
            let database = try scratch.postgres()
            _ = try PostgresRequestLog(database)
            try database.withConnection { connection in
                try connection.close().waited()
                // PostgresNIO never answers it (its request is written with no promise): the limit does.
                #expect(throws: StoreUnavailable.self) {
                    try PostgresDatabase.waitFor(connection, timeout: .seconds(3)) {
                        try await connection.copyFrom(table: "request_log", columns: ["time"], logger: database.logger) {
                            try await $0.write(ByteBuffer(string: "1\n"))
                        }
                    }
                }
            }
        }
    }
}
