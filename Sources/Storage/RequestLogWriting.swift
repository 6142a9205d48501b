import Foundation
import GRDB
import GRDBSQLite
import Synchronization
#if os(Linux)
import CLinuxShims
#endif

/// Writing the queued records: requests in batches, devices merged and upserted at most once a second.
extension RequestLog {
    /// Writes every queued record now: the requests, then one upsert per device seen in the batch.
    public func flush() throws {
        try flush(writingDevices: true)
    }

    /// What the next device write says of one device: the batches since the last write, merged.
    struct DeviceUpdate {
        var firstTime: Double
        var lastTime: Double
        var client: String
        var path: String
        var result: String
        var model: String?
        var firmware: String?
    }

    /// Writes the queued requests, and the device updates when `writingDevices`.
    func flush(writingDevices: Bool) throws {
        var batch: [RequestRecord] = []
        pending.forEach { records in
            batch += records
            records.removeAll(keepingCapacity: true)
        }
        guard !batch.isEmpty || writingDevices else { return }
        // Written in time order across shards; sorting indices moves no strings.
        let order = batch.indices.sorted { batch[$0].time < batch[$1].time }
        if let identify {
            // Called for every record: remembering identities by (protocol, path, User-Agent) cost more in
            // hashing and comparing than identifying again.
            var pacer = Pacer(work: batch.count)
            for index in batch.indices where batch[index].mac == nil {
                pacer.step()
                identify(&batch[index])
            }
        }
        if let observe {
            let sightings = order.map { batch[$0] }.filter { $0.mac != nil || $0.model != nil }
            if !sightings.isEmpty { observe(sightings) }
        }
        var devices = pendingDevices.withLock { pending -> [String: DeviceUpdate] in
            for index in order {
                guard let mac = batch[index].mac else { continue }
                // Updated in place: copying records (a dozen reference counts each) was most of this loop's cost.
                let found = pending.index(forKey: mac)
                if let found {
                    pending.values[found].lastTime = batch[index].time
                    pending.values[found].client = batch[index].client
                    pending.values[found].path = batch[index].path
                    pending.values[found].result = batch[index].result
                    if let model = batch[index].model { pending.values[found].model = model }
                    if let firmware = batch[index].firmware { pending.values[found].firmware = firmware }
                } else {
                    pending[mac] = DeviceUpdate(
                        firstTime: batch[index].time, lastTime: batch[index].time, client: batch[index].client,
                        path: batch[index].path, result: batch[index].result, model: batch[index].model,
                        firmware: batch[index].firmware)
                }
            }
            guard writingDevices else { return [:] }
            defer { pending.removeAll() }
            return pending
        }
        try database.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO request (time, protocolName, client, path, result, bytes, duration, mac, model, firmware,
                certificate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            // Bound and stepped with SQLite's own calls: at tens of thousands of requests a second, building
            // `StatementArguments` for each record cost more than the insert.
            let statement = insert.sqliteStatement
            defer { sqlite3_reset(statement) }
            var pacer = Pacer(work: order.count)
            for index in order {
                pacer.step()
                sqlite3_reset(statement)
                sqlite3_bind_double(statement, 1, batch[index].time)
                bind(statement, 2, batch[index].protocolName)
                bind(statement, 3, batch[index].client)
                bind(statement, 4, batch[index].path)
                bind(statement, 5, batch[index].result)
                sqlite3_bind_int64(statement, 6, Int64(batch[index].bytes))
                sqlite3_bind_double(statement, 7, batch[index].duration)
                bind(statement, 8, batch[index].mac)
                bind(statement, 9, batch[index].model)
                bind(statement, 10, batch[index].firmware)
                bind(statement, 11, batch[index].certificate)
                let code = sqlite3_step(statement)
                guard code == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage)
                }
            }
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO device (mac, model, firmware, address, firstSeen, lastSeen, lastPath, lastResult)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(mac) DO UPDATE SET model = coalesce(excluded.model, model),
                firmware = coalesce(excluded.firmware, firmware), address = excluded.address,
                lastSeen = excluded.lastSeen, lastPath = excluded.lastPath, lastResult = excluded.lastResult
                """)
            // Raw binds here too: a fleet is tens of thousands of rows every second.
            let upsertStatement = upsert.sqliteStatement
            defer { sqlite3_reset(upsertStatement) }
            pacer = Pacer(work: devices.count)
            for (mac, device) in devices {
                pacer.step()
                sqlite3_reset(upsertStatement)
                bind(upsertStatement, 1, mac)
                bind(upsertStatement, 2, device.model)
                bind(upsertStatement, 3, device.firmware)
                bind(upsertStatement, 4, device.client)
                sqlite3_bind_double(upsertStatement, 5, device.firstTime)
                sqlite3_bind_double(upsertStatement, 6, device.lastTime)
                bind(upsertStatement, 7, device.path)
                bind(upsertStatement, 8, device.result)
                let code = sqlite3_step(upsertStatement)
                guard code == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage)
                }
            }
            devices = [:]
        }
    }

    /// Gives the core up now and then during a long piece of work. A full batch is milliseconds of work, and the
    /// devices' write once a second tens of milliseconds; a thread that holds a core that long delays every request
    /// waiting for that core. Each yield can cost the log a scheduler slice, so a piece of work yields a bounded
    /// number of times however large it is, and the log keeps up when it falls behind.
    struct Pacer {
        static let smallestStride = 128
        static let mostYields = 8
        let stride: Int
        var count = 0

        init(work: Int) {
            stride = max(Pacer.smallestStride, work / Pacer.mostYields)
        }

        @inline(__always)
        mutating func step() {
            count += 1
            if count == stride {
                count = 0
                sched_yield()
            }
        }
    }

    /// Binds text, or NULL for nil; SQLite copies the bytes.
    private func bind(_ statement: OpaquePointer?, _ index: Int32, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(statement, index)
            return
        }
        text.withUTF8 { bytes in
            _ = sqlite3_bind_text(statement, index, UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self),
                                  Int32(bytes.count), RequestLog.transient)
        }
    }

    /// `SQLITE_TRANSIENT`, which C defines as a cast Swift does not import.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
