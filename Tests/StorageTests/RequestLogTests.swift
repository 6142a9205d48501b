import Foundation
import GRDB
import Logging
import Synchronization
import Testing
@testable import FileService
@testable import Storage

@Suite("Request log and device registry (S6)", .timeLimit(.minutes(2)))
struct RequestLogTests {
    let logger = Logger(label: "test")

    private func temporaryDatabase() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("autoprov-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("autoprov.sqlite")
    }

    @Test("a v3 database keeps its requests and their ids when the request table loses AUTOINCREMENT")
    func migrationToRowidTable() throws {
        let path = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: path.deletingLastPathComponent()) }
        do {
            let old = try DatabaseQueue(path: path.path)
            try SQLiteRequestLog.migrator.migrate(old, upTo: "v3: append-only request table")
            try old.write { db in
                for (id, file) in [(7, "/001565000001.cfg"), (9, "/y000000000028.cfg")] {
                    try db.execute(sql: """
                        INSERT INTO request (id, time, protocolName, client, path, result, bytes, duration, mac,
                        certificate) VALUES (?, ?, 'http', '192.0.2.1', ?, 'ok', 10, 0.001, NULL, 'CN=phone')
                        """, arguments: [id, Double(id), file])
                }
            }
            try old.close()
        }
        let log = try RequestLog(path: path.path, logger: logger, identify: DeviceIdentity.fill)
        let schema = try (log.store as! SQLiteRequestLog).database.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'request'")
        }
        #expect(schema?.uppercased().contains("AUTOINCREMENT") == false)
        var kept = try log.requests(limit: 10)
        #expect(kept.map(\.id) == [9, 7])
        #expect(kept.map(\.path) == ["/y000000000028.cfg", "/001565000001.cfg"])
        #expect(kept.last?.certificate == "CN=phone")

        log.record(RequestRecord(time: 10, protocolName: "tftp", client: "192.0.2.2", path: "001565000002.cfg",
                                 result: "ok", bytes: 5, duration: 0))
        try log.flush()
        kept = try log.requests(limit: 10)
        #expect(kept.first?.id == 10)
        #expect(kept.first?.mac == "001565000002")
    }

    @Test("a burst's queue is written whole and its storage given back; the observer sees the batch in time order")
    func burstStorage() throws {
        let seen = Mutex<[Double]>([])
        let log = try RequestLog(path: nil, logger: logger, identify: DeviceIdentity.fill,
                                 observe: { records, order in seen.withLock { $0 += order.map { records[$0].time } } })
        let burst = RequestLog.keptShardCapacity * 4
        for index in (0..<burst).reversed() {
            log.record(RequestRecord(time: Double(index), protocolName: "http", client: "192.0.2.9",
                                     path: String(format: "/001565%06x.cfg", index), result: "ok", bytes: 1, duration: 0))
        }
        try log.flush()
        var capacities: [Int] = []
        log.pending.forEach { capacities.append($0.capacity) }
        #expect(capacities.allSatisfy { $0 <= RequestLog.keptShardCapacity })
        #expect(seen.withLock { $0 } == (0..<burst).map(Double.init))
        #expect(try log.requests(limit: 1).first?.time == Double(burst - 1))

        // A small queue keeps its storage for the next one.
        for index in 0..<10 {
            log.record(RequestRecord(time: Double(burst + index), protocolName: "http", client: "192.0.2.9",
                                     path: "/y000000000028.cfg", result: "ok", bytes: 1, duration: 0))
        }
        try log.flush()
        var kept: [Int] = []
        log.pending.forEach { kept.append($0.capacity) }
        #expect(kept.contains { $0 >= 10 })
    }

    @Test("records are written in time order, identified from their paths, and devices merged")
    func orderAndIdentity() throws {
        let log = try RequestLog(path: nil, logger: logger, identify: DeviceIdentity.fill)
        log.record(RequestRecord(time: 2, protocolName: "http", client: "192.0.2.5", path: "/001565abcdef%2dlocal.cfg",
                                 result: "stored", bytes: 3, duration: 0))
        log.record(RequestRecord(time: 1, protocolName: "http", client: "192.0.2.4", path: "/001565abcdef.cfg",
                                 result: "ok", bytes: 3, duration: 0))
        log.record(RequestRecord(time: 3, protocolName: "tftp", client: "192.0.2.6", path: "y000000000028.cfg",
                                 result: "ok", bytes: 3, duration: 0))
        log.record(RequestRecord(time: 4, protocolName: "tftp", client: "192.0.2.6", path: "001565abcdef.txt",
                                 result: "not-found", bytes: 0, duration: 0))
        try log.flush()
        let requests = try log.requests(limit: 10)
        #expect(requests.map(\.time) == [4, 3, 2, 1])
        #expect(requests.map(\.mac) == [nil, nil, "001565abcdef", "001565abcdef"])
        #expect(requests[1].model == "T46G")
        let devices = try log.devices()
        #expect(devices.count == 1)
        #expect(devices.first?.firstSeen == 1)
        #expect(devices.first?.lastSeen == 2)
        #expect(devices.first?.address == "192.0.2.5")
        #expect(devices.first?.lastResult == "stored")
    }

    @Test("a batch far larger than one slice of work is written whole")
    func largeBatch() throws {
        let log = try RequestLog(path: nil, logger: logger, identify: DeviceIdentity.fill)
        for index in 0..<20_000 {
            log.record(RequestRecord(time: Double(index), protocolName: "http", client: "192.0.2.1",
                                     path: "/" + String(format: "001565%06x", index % 5_000) + ".cfg",
                                     result: "ok", bytes: 1, duration: 0))
        }
        try log.flush()
        let count = try (log.store as! SQLiteRequestLog).database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM request") }
        #expect(count == 20_000)
        #expect(try log.devices().count == 5_000)
        #expect(log.dropped == 0)
    }

    @Test("a store that fails keeps nothing back: its requests wait in order, devices merged, and are written once it is back")
    func outageKeepsRecords() throws {
        let store = FailingStore(try SQLiteRequestLog(path: nil))
        let log = RequestLog(store: store, logger: logger, identify: DeviceIdentity.fill)
        let record = { (time: Double, mac: String, agent: String?) in
            log.record(RequestRecord(time: time, protocolName: "http", client: "192.0.2.\(Int(time))",
                                     path: "/\(mac).cfg", result: "ok", bytes: 1, duration: 0, userAgent: agent))
        }
        record(1, "001565000001", "Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:01")
        store.failing.withLock { $0 = true }
        #expect(throws: StoreUnavailable.self) { try log.flush() }
        #expect(log.retained == 1)
        record(3, "001565000001", nil)
        record(2, "001565000002", nil)
        #expect(throws: StoreUnavailable.self) { try log.flush() }
        #expect(log.retained == 3)
        #expect(throws: StoreUnavailable.self) { try log.requests(limit: 10) }
        store.failing.withLock { $0 = false }
        try log.flush()
        #expect(log.retained == 0)
        #expect(try log.requests(limit: 10).map(\.time) == [3, 2, 1])
        let first = try #require(try log.device(mac: "001565000001"))
        // Its first sighting (kept through the outage) and its model, which only that one's User-Agent said.
        #expect(first.firstSeen == 1)
        #expect(first.lastSeen == 3)
        #expect(first.model == "T46S")
        #expect(first.address == "192.0.2.3")
        #expect(log.dropped == 0)
    }

    @Test("only the device names a phone asks for say which MAC is asking")
    func leadingMAC() {
        #expect(DeviceIdentity.leadingMAC("001565abcdef.cfg") == "001565abcdef")
        #expect(DeviceIdentity.leadingMAC("001565abcdef.boot") == "001565abcdef")
        #expect(DeviceIdentity.leadingMAC("001565abcdef-local.cfg") == "001565abcdef")
        #expect(DeviceIdentity.leadingMAC("001565abcdef-contact.xml") == "001565abcdef")
        #expect(DeviceIdentity.leadingMAC("001565abcdef.txt") == nil)
        #expect(DeviceIdentity.leadingMAC("001565abcde.cfg") == nil)
        #expect(DeviceIdentity.leadingMAC("001565ABCDEF.cfg") == nil)
        #expect(DeviceIdentity.leadingMAC("001565abcdef") == nil)
        #expect(DeviceIdentity.leadingMAC("001565abcdeg.cfg") == nil)
        #expect(DeviceIdentity(path: "/a/b/001565abcdef.cfg", userAgent: nil).mac == "001565abcdef")
        #expect(DeviceIdentity(path: "001565abcdef.cfg", userAgent: nil).mac == "001565abcdef")
    }
}

/// A store that refuses every call while `failing`, as a store whose server went away does; else the store it wraps.
final class FailingStore: RequestLogStore {
    let wrapped: SQLiteRequestLog
    let failing = Mutex(false)

    init(_ wrapped: SQLiteRequestLog) {
        self.wrapped = wrapped
    }

    private func check() throws {
        if failing.withLock({ $0 }) { throw StoreUnavailable("the store is away") }
    }

    func write(requests: [RequestRecord], order: [Int], devices: [String: DeviceUpdate]) throws {
        try check()
        try wrapped.write(requests: requests, order: order, devices: devices)
    }
    func devices() throws -> [DeviceRecord] { try check(); return try wrapped.devices() }
    func device(mac: String) throws -> DeviceRecord? { try check(); return try wrapped.device(mac: mac) }
    func activity(now: Double) throws -> FleetActivity { try check(); return try wrapped.activity(now: now) }
    func requests(mac: String?, protocolName: String?, since: Double?, limit: Int) throws -> [RequestRecord] {
        try check()
        return try wrapped.requests(mac: mac, protocolName: protocolName, since: since, limit: limit)
    }
    func saveLease(_ lease: LeaseRecord) throws { try check(); try wrapped.saveLease(lease) }
    func removeLease(mac: String) throws { try check(); try wrapped.removeLease(mac: mac) }
    func leases() throws -> [LeaseRecord] { try check(); return try wrapped.leases() }
}
