import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import ProvisioningCore
import Storage
import Synchronization

/// One PostgreSQL database as the stores use it: a connection opened on first use and again after it was lost, used by
/// one caller at a time. The stores' calls block, as SQLite's do; the connections run on an event loop of their own,
/// so that a caller on any other thread (an event loop of the server's among them) may wait for them.
public final class PostgresDatabase: Sendable {
    /// The thread every store connection runs on; nothing else runs there, so no caller ever waits on it.
    static let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()
    /// Where the stores' async calls (``waitFor(_:timeout:_:)``) run; it never blocks.
    static let taskThread = ThreadExecutor()

    let configuration: PostgresConnection.Configuration
    /// The URL it was opened with, to name it in messages (``redacted(_:)``).
    let url: String
    let logger: Logger
    private let held = Mutex<PostgresConnection?>(nil)
    private let nextID = Atomic<Int>(0)

    /// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`; the password, when the
    /// URL has none, from `password` (a `password_file`, `PGPASSWORD`).
    public init(url text: String, password: String? = nil, logger: Logger = Logger(label: "autoprov.store")) throws {
        guard let url = URLComponents(string: text), ["postgresql", "postgres"].contains(url.scheme ?? ""),
              let host = url.host, !host.isEmpty, let user = url.user, !user.isEmpty
        else {
            throw PostgresStoreError("\(PostgresDatabase.redacted(text)): not a postgresql://USER@HOST[:PORT]/DATABASE URL")
        }
        let database = String(url.path.drop { $0 == "/" })
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let rootCertificate = url.queryItems?.first { $0.name == "sslrootcert" }?.value
        // As libpq reads sslmode: prefer and require encrypt without checking the server's certificate; verify-ca
        // checks it against the trusted roots (sslrootcert=PATH, else the system's), verify-full its name too.
        func context(_ verification: CertificateVerification) throws -> NIOSSLContext {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = verification
            if let rootCertificate { configuration.trustRoots = .file(rootCertificate) }
            return try NIOSSLContext(configuration: configuration)
        }
        let tls: PostgresConnection.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "allow", "prefer": tls = .prefer(try context(.none))
        case "require": tls = .require(try context(.none))
        case "verify-ca": tls = .require(try context(.noHostnameVerification))
        case "verify-full": tls = .require(try context(.fullVerification))
        default:
            throw PostgresStoreError("\(PostgresDatabase.redacted(text)): sslmode \(mode) is not one of disable, allow, "
                                     + "prefer, require, verify-ca, verify-full")
        }
        configuration = PostgresConnection.Configuration(
            host: host, port: url.port ?? 5432, username: user, password: url.password ?? password,
            database: database.isEmpty ? user : database, tls: tls)
        self.url = text
        self.logger = logger
    }

    /// What went wrong, said plainly: the server's own message (a refused password, a missing database), else the
    /// kind of failure and its cause (a refused connection); never the query's values.
    static func describe(_ error: any Error) -> String {
        guard let failure = error as? PSQLError else { return "\(error)" }
        if let message = failure.serverInfo?[.message] { return message }
        return failure.underlying.map { "\(failure.code): \($0)" } ?? "\(failure.code)"
    }

    /// The URL without its password, to name it in messages.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }

    /// Runs `body` on the connection, alone; a connection found closed is opened anew first.
    /// A connection that cannot be made, or is lost on the way, is ``StoreUnavailable``.
    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try held.withLock { connection in
            if connection == nil || connection!.isClosed {
                try? connection?.close().waited()
                connection = nil
                do {
                    connection = try PostgresConnection.connect(
                        on: PostgresDatabase.loop, configuration: configuration,
                        id: nextID.add(1, ordering: .relaxed).newValue, logger: logger
                    ).waited()
                } catch {
                    throw StoreUnavailable("\(PostgresDatabase.redacted(url)): cannot connect (\(PostgresDatabase.describe(error)))")
                }
            }
            do {
                return try body(connection!)
            } catch where connection!.isClosed {
                throw StoreUnavailable("\(PostgresDatabase.redacted(url)): the connection was lost (\(PostgresDatabase.describe(error)))")
            } catch let unanswered as Unanswered {
                // The next call opens another connection: this one's answers, if any come, answer nothing.
                let dropped: EventLoopFuture<Void> = connection!.close()
                _ = dropped
                connection = nil
                throw StoreUnavailable("\(PostgresDatabase.redacted(url)): \(unanswered)")
            }
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { connection in
            _ = try connection.query("BEGIN", logger: logger).waited()
            do {
                let result = try body(connection)
                _ = try connection.query("COMMIT", logger: logger).waited()
                return result
            } catch {
                // A connection closed under the statement (a COPY past its deadline) takes no ROLLBACK: PostgreSQL
                // rolled back when it went, and a query on it might never be answered.
                if !connection.isClosed {
                    _ = try? connection.query("ROLLBACK", logger: logger).waited(within: .seconds(5))
                }
                throw error
            }
        }
    }

    /// Runs the migrations not yet applied, in order, each in its own transaction, under an advisory lock: nodes that
    /// start together migrate once. A migration may rewrite a large table, and a node waits for another's to
    /// finish: each statement has an hour, not a query's minute.
    public func migrate(_ migrations: [(name: String, statements: [String])]) throws {
        try withConnection { connection in
            _ = try connection.query("SELECT pg_advisory_lock(7265746)", logger: logger).waited(within: .seconds(3600))
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(7265746)", logger: logger).waited(within: .seconds(3600)) }
            _ = try connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migration (name TEXT COLLATE \"C\" PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)",
                logger: logger).waited(within: .seconds(3600))
            var applied = Set<String>()
            for row in try connection.query("SELECT name FROM schema_migration", logger: logger).waited(within: .seconds(3600)) {
                applied.insert(try row.decode(String.self))
            }
            for migration in migrations where !applied.contains(migration.name) {
                _ = try connection.query("BEGIN", logger: logger).waited(within: .seconds(3600))
                do {
                    for statement in migration.statements {
                        _ = try connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).waited(within: .seconds(3600))
                    }
                    _ = try connection.query(
                        "INSERT INTO schema_migration (name, applied) VALUES (\(migration.name), \(Date().timeIntervalSince1970))",
                        logger: logger).waited(within: .seconds(3600))
                    _ = try connection.query("COMMIT", logger: logger).waited(within: .seconds(3600))
                } catch {
                    _ = try? connection.query("ROLLBACK", logger: logger).waited(within: .seconds(3600))
                    throw PostgresStoreError("migration '\(migration.name)' failed: \(PostgresDatabase.describe(error))")
                }
            }
        }
    }

    deinit { close() }

    /// Closes the connection (a later call opens another).
    public func close() {
        held.withLock { connection in
            try? connection?.close().waited()
            connection = nil
        }
    }
}

/// A PostgreSQL store's failure, said plainly.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension PostgresDatabase {
    /// Each notification's payload on `channel`, from a connection of its own that listens until the stream is
    /// dropped; a lost connection is made again (after a second, then up to 30), and each reconnection is a `nil`
    /// (the first connection too, with `signalFirst`): what was notified while none listened must be read anew.
    func notifications(on channel: String, what: String, signalFirst: Bool) -> AsyncStream<String?> {
        let (notifications, continuation) = AsyncStream.makeStream(of: String?.self)
        let (configuration, logger) = (configuration, logger)
        let listener = Task {
            var pause = Duration.seconds(1)
            var connected = false
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(
                        on: PostgresDatabase.loop, configuration: configuration, id: 0, logger: logger)
                    do {
                        try await connection.listen(on: channel) { received in
                            if connected || signalFirst { continuation.yield(nil) }
                            connected = true
                            pause = .seconds(1)
                            for try await notification in received { continuation.yield(notification.payload) }
                        }
                    } catch {
                        if !Task.isCancelled { logger.debug("\(what): \(error)") }
                    }
                    try? await connection.close()
                } catch {
                    if !Task.isCancelled { logger.debug("\(what): \(error)") }
                }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(30))
            }
        }
        continuation.onTermination = { _ in listener.cancel() }
        return notifications
    }

    /// Runs `body`, which is async (PostgresNIO's `COPY`), from a thread that blocks until it is done: never the
    /// store's event loop, nor a task's thread (it would hold one of the few the tasks run on). Past `timeout` the
    /// connection is closed and the call fails: a `COPY` begun on a connection that closed under it is never
    /// answered (its request is written with no promise), and the log's writer must not wait for it forever.
    static func waitFor(_ connection: PostgresConnection, timeout: Duration = .seconds(15),
                        _ body: @escaping @Sendable () async throws -> Void) throws {
        precondition(!PostgresDatabase.loop.inEventLoop, "a store call on the store's own event loop")
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome<Void>()
        // On the store's own task thread: the threads tasks share may all be busy (or be the caller's).
        Task(executorPreference: PostgresDatabase.taskThread) {
            do {
                try await body()
                outcome.result = .success(())
            } catch {
                outcome.result = .failure(error)
            }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout.seconds) == .success else {
            try? connection.close().waited()
            throw StoreUnavailable("no answer from PostgreSQL within \(timeout); the connection is closed")
        }
        try outcome.result!.get()
    }
}

/// No answer from PostgreSQL within a call's deadline: the connection is given up.
struct Unanswered: Error, CustomStringConvertible {
    let deadline: Duration
    var description: String { "no answer from PostgreSQL within \(deadline); the connection is closed" }
}

extension EventLoopFuture {
    /// The value, once the future has it: blocks the calling thread, which must not be the future's own event loop
    /// (the store's connections run on ``PostgresDatabase/loop``, which never calls this). Past `deadline` it throws
    /// ``Unanswered``: a query on a connection that went away under it may never be answered, and no thread of the
    /// server (the request log's writer at shutdown, for one) may wait for it forever.
    func waited(within deadline: Duration = .seconds(60)) throws -> Value {
        precondition(!eventLoop.inEventLoop, "a store call on the store's own event loop")
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome<Value>()
        whenComplete { result in
            outcome.result = result
            done.signal()
        }
        guard done.wait(timeout: .now() + deadline.seconds) == .success else { throw Unanswered(deadline: deadline) }
        return try outcome.result!.get()
    }
}

/// A future's result, handed from its event loop to the thread that waits for it (the semaphore orders the two).
private final class Outcome<Value>: @unchecked Sendable {
    var result: Result<Value, Error>?
}
