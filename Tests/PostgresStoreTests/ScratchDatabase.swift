import Foundation
@testable import PostgresStore
import TestSupport
import Testing

/// The stores every contract suite runs against: SQLite (the embedded default) and PostgreSQL (several nodes).
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgresql
    var testDescription: String { rawValue }
}

/// A new, empty database of one kind for one test: a SQLite file in a folder of its own, or a database in a throwaway
/// PostgreSQL cluster. Stores opened on it stand for processes (or nodes) sharing it; all is removed with it.
final class ScratchDatabase: @unchecked Sendable {
    let kind: StoreKind
    /// The SQLite file (for `.sqlite`).
    let path: String
    private let folder: URL?
    private let cluster: ThrowawayPostgres?
    private var opened: [PostgresDatabase] = []

    init(_ kind: StoreKind, name: String) throws {
        self.kind = kind
        switch kind {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-\(name)-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            (self.folder, cluster, path) = (folder, nil, folder.appendingPathComponent("\(name).sqlite").path)
        case .postgresql:
            let cluster = try ThrowawayPostgres()
            do { try cluster.createDatabase(name) } catch {
                cluster.stop()
                throw error
            }
            (folder, self.cluster, path) = (nil, cluster, name)
        }
    }

    /// A new connection to the PostgreSQL database, closed with the scratch database.
    func postgres() throws -> PostgresDatabase {
        let database = try PostgresDatabase(url: cluster!.url(path))
        opened.append(database)
        return database
    }

    /// Stops the PostgreSQL server while `during` runs (as a crash would), then starts it again.
    func outage(_ during: () throws -> Void) throws {
        cluster!.pause()
        defer { try? cluster!.start() }
        try during()
    }

    deinit {
        for database in opened { database.close() }
        cluster?.stop()
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }
}

/// A store on a new database, and more on the same one (other processes, other nodes), each made by `make`.
final class OpenedStore<Store: Sendable>: Sendable {
    let scratch: ScratchDatabase
    let store: Store
    private let make: @Sendable (ScratchDatabase) throws -> Store

    init(_ kind: StoreKind, name: String, _ make: @escaping @Sendable (ScratchDatabase) throws -> Store) throws {
        scratch = try ScratchDatabase(kind, name: name)
        self.make = make
        store = try make(scratch)
    }

    /// Another store on the same database.
    func another() throws -> Store { try make(scratch) }
}

/// Runs `body` on a thread of its own (store calls block), with `open`'s result, released after.
func withScratch<Opened: Sendable>(_ open: @escaping @Sendable () throws -> Opened,
                                   _ body: @escaping @Sendable (Opened) throws -> Void) async throws {
    try await onOwnThread {
        let opened = try open()
        defer { withExtendedLifetime(opened) {} }
        try body(opened)
    }
}
