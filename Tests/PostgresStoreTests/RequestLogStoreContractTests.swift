import Foundation
import Logging
@testable import PostgresStore
import TestSupport
import Storage
import Testing

/// What every request-log store must do (requests, the device registry, DHCP leases), run against SQLite and against
/// a throwaway PostgreSQL cluster (issue 17). A second store on the same database stands for a second node.
@Suite("Request log store contract: SQLite and PostgreSQL", .serialized, .timeLimit(.minutes(5)))
struct RequestLogStoreContractTests {
    typealias Opened = OpenedStore<any RequestLogStore>

    /// A store of `kind` on a new database.
    static func open(_ kind: StoreKind) throws -> Opened {
        try Opened(kind, name: "log") { scratch in
            switch scratch.kind {
            case .sqlite: try SQLiteRequestLog(path: scratch.path)
            case .postgresql: try PostgresRequestLog(try scratch.postgres())
            }
        }
    }

    /// Runs `body` with a store of `kind` on a new database, on a thread of its own (it blocks); closed after.
    func with(_ kind: StoreKind, _ body: @escaping @Sendable (Opened) throws -> Void) async throws {
        try await withScratch({ try Self.open(kind) }, body)
    }

    static func record(_ time: Double, _ path: String, mac: String? = nil, model: String? = nil,
                       firmware: String? = nil, protocolName: String = "http", certificate: String? = nil) -> RequestRecord {
        RequestRecord(time: time, protocolName: protocolName, client: "192.0.2.\(Int(time) % 250)", path: path,
                      result: "ok", bytes: Int(time) * 10, duration: 0.001, mac: mac, model: model, firmware: firmware,
                      certificate: certificate)
    }

    static func update(_ first: Double, _ last: Double, model: String? = nil, firmware: String? = nil,
                       path: String = "/x.cfg") -> DeviceUpdate {
        DeviceUpdate(firstTime: first, lastTime: last, client: "192.0.2.\(Int(last))", path: path, result: "ok",
                     model: model, firmware: firmware)
    }

    @Test("requests are appended in the order given, read newest first, filtered by MAC, protocol and time, limited",
          arguments: StoreKind.allCases)
    func requests(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let store = opened.store
            // Given out of time order; `order` puts them in it.
            let batch = [Self.record(3, "/001565000001.cfg", mac: "001565000001", model: "T46S", firmware: "66.86.0.15"),
                         Self.record(1, "/y000000000000.boot"),
                         Self.record(2, "001565000002.cfg", mac: "001565000002", protocolName: "tftp",
                                     certificate: "CN=phone 2"),
                         Self.record(4, "/odd\u{0}name\\with\ttab\nand\rcr", mac: nil)]
            try store.write(requests: batch, order: [1, 2, 0, 3], devices: [:])
            let all = try store.requests(mac: nil, protocolName: nil, since: nil, limit: 10)
            #expect(all.map(\.time) == [4, 3, 2, 1])
            #expect(all.map(\.path).suffix(3) == ["/001565000001.cfg", "001565000002.cfg", "/y000000000000.boot"])
            let ids = all.compactMap(\.id)
            #expect(ids.count == 4 && ids == ids.sorted(by: >), "\(ids)")
            let first = try #require(all.first { $0.time == 3 })
            #expect(first.mac == "001565000001" && first.model == "T46S" && first.firmware == "66.86.0.15")
            #expect(first.bytes == 30 && first.client == "192.0.2.3" && first.result == "ok" && first.duration == 0.001)
            #expect(all.first { $0.time == 1 }?.mac == nil)
            #expect(all.first { $0.time == 2 }?.certificate == "CN=phone 2")
            // A NUL, which PostgreSQL's text cannot hold and SQLite would read back cut short, is kept as '?'; a
            // backslash, tab, newline and carriage return come back as they were.
            #expect(all.first { $0.time == 4 }?.path == "/odd?name\\with\ttab\nand\rcr")
            #expect(try store.requests(mac: "001565000001", protocolName: nil, since: nil, limit: 10).map(\.time) == [3])
            #expect(try store.requests(mac: nil, protocolName: "tftp", since: nil, limit: 10).map(\.time) == [2])
            #expect(try store.requests(mac: nil, protocolName: nil, since: 2.5, limit: 10).map(\.time) == [4, 3])
            #expect(try store.requests(mac: nil, protocolName: nil, since: nil, limit: 2).map(\.time) == [4, 3])
            // Another node's log is the same log.
            let other = try opened.another()
            try other.write(requests: [Self.record(5, "/001565000003.cfg", mac: "001565000003")], order: [0], devices: [:])
            #expect(try store.requests(mac: nil, protocolName: nil, since: nil, limit: 1).map(\.time) == [5])
        }
    }

    @Test("devices are upserted: first seen kept, last seen, address and path moved on, a model or firmware not said kept",
          arguments: StoreKind.allCases)
    func devices(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let store = opened.store
            try store.write(requests: [], order: [], devices: [
                "001565000001": Self.update(10, 20, model: "T46S", firmware: "66.86.0.15", path: "/a.cfg"),
                "001565000002": Self.update(15, 15, model: "T54W"),
            ])
            try store.write(requests: [], order: [], devices: ["001565000001": Self.update(30, 40, path: "/b.cfg")])
            let one = try #require(try store.device(mac: "001565000001"))
            #expect(one.firstSeen == 10 && one.lastSeen == 40)
            #expect(one.model == "T46S" && one.firmware == "66.86.0.15")
            #expect(one.address == "192.0.2.40" && one.lastPath == "/b.cfg" && one.lastResult == "ok")
            #expect(try store.device(mac: "001565000009") == nil)
            #expect(try store.devices().map(\.mac) == ["001565000001", "001565000002"])
            let activity = try store.activity(now: 40 + 3600 + 1)
            #expect(activity.seenEver == 2 && activity.seenLastDay == 2 && activity.seenLastHour == 0)
            #expect(activity.firmware.map(\.version) == ["66.86.0.15"] && activity.firmware.map(\.phones) == [1])
            #expect(try store.activity(now: 41).seenLastHour == 2)
        }
    }

    @Test("a batch of many requests and devices is written whole, in order", arguments: StoreKind.allCases)
    func largeBatch(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let count = 45_000
            let batch = (0..<count).map { Self.record(Double($0), "/" + String(format: "001565%06x", $0 % 3_000) + ".cfg",
                                                      mac: String(format: "001565%06x", $0 % 3_000)) }
            var devices: [String: DeviceUpdate] = [:]
            for index in 0..<3_000 { devices[String(format: "001565%06x", index)] = Self.update(1, Double(index)) }
            try opened.store.write(requests: batch, order: Array(0..<count), devices: devices)
            let latest = try opened.store.requests(mac: nil, protocolName: nil, since: nil, limit: 3)
            #expect(latest.map(\.time) == [44_999, 44_998, 44_997])
            #expect(try opened.store.requests(mac: "001565000007", protocolName: nil, since: nil, limit: 100).count == 15)
            #expect(try opened.store.devices().count == 3_000)
        }
    }

    @Test("a lease replaces the client's earlier one and any stale row holding its address; removed by MAC",
          arguments: StoreKind.allCases)
    func leases(_ kind: StoreKind) async throws {
        try await with(kind) { opened in
            let store = opened.store
            try store.saveLease(LeaseRecord(mac: "001565000001", address: "10.0.0.20", expires: 100, vendorClass: "yealink",
                                            updated: 1))
            try store.saveLease(LeaseRecord(mac: "001565000002", address: "10.0.0.10", expires: 100, vendorClass: nil,
                                            updated: 2))
            try store.saveLease(LeaseRecord(mac: "001565000001", address: "10.0.0.30", expires: 200, vendorClass: "yealink",
                                            updated: 3))
            // The address 10.0.0.10 passes to another client: the stale row goes.
            try store.saveLease(LeaseRecord(mac: "001565000003", address: "10.0.0.10", expires: 300, vendorClass: nil,
                                            updated: 4))
            let leases = try store.leases()
            #expect(leases.map(\.address) == ["10.0.0.10", "10.0.0.30"])
            #expect(leases.map(\.mac) == ["001565000003", "001565000001"])
            #expect(leases.last?.expires == 200 && leases.last?.vendorClass == "yealink")
            try store.removeLease(mac: "001565000001")
            #expect(try store.leases().map(\.mac) == ["001565000003"])
        }
    }

    @Test("PostgreSQL away: the log's records wait in memory, its writer says so, and all are written once it is back")
    func outage() async throws {
        try await with(.postgresql) { opened in
            let log = RequestLog(store: opened.store, logger: Logger(label: "test"), identify: nil)
            log.record(Self.record(1, "/001565000001.cfg", mac: "001565000001"))
            try log.flush()
            try opened.scratch.outage {
                for time in 2...5 { log.record(Self.record(Double(time), "/001565000001.cfg", mac: "001565000001")) }
                #expect(throws: StoreUnavailable.self) { try log.flush() }
                #expect(log.retained == 4)
            }
            try log.flush()
            #expect(log.retained == 0 && log.dropped == 0)
            #expect(try log.requests(limit: 10).map(\.time) == [5, 4, 3, 2, 1])
            #expect(try log.device(mac: "001565000001")?.lastSeen == 5)
        }
    }
}
