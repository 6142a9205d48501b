import Foundation
import GRDB

/// One request on any protocol, as recorded.
public struct RequestRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "request"

    public var id: Int64?
    /// Seconds since 1970 (UTC).
    public var time: Double
    /// `tftp`, `http`, `https`, `ftp`, `sip-pnp`.
    public var protocolName: String
    public var client: String
    public var path: String
    /// `ok`, `not-found`, `forbidden`, `unauthorized`, `stored`, `failed`, ….
    public var result: String
    public var bytes: Int
    public var duration: Double
    public var mac: String?
    public var model: String?
    public var firmware: String?
    /// The subject of the client's TLS certificate (mutual TLS), when it presented one.
    public var certificate: String?
    /// The User-Agent, kept until the device is identified (not stored).
    public var userAgent: String?

    enum CodingKeys: String, CodingKey {
        case id, time, protocolName, client, path, result, bytes, duration, mac, model, firmware, certificate
    }

    public init(time: Double, protocolName: String, client: String, path: String, result: String, bytes: Int,
                duration: Double, mac: String? = nil, model: String? = nil, firmware: String? = nil,
                userAgent: String? = nil, certificate: String? = nil) {
        self.time = time
        self.protocolName = protocolName
        self.client = client
        self.path = path
        self.result = result
        self.bytes = bytes
        self.duration = duration
        self.mac = mac
        self.model = model
        self.firmware = firmware
        self.userAgent = userAgent
        self.certificate = certificate
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A device seen by the server, by MAC.
public struct DeviceRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "device"

    public var mac: String
    public var model: String?
    public var firmware: String?
    public var address: String
    public var firstSeen: Double
    public var lastSeen: Double
    public var lastPath: String
    public var lastResult: String

    public init(mac: String, model: String?, firmware: String?, address: String, firstSeen: Double, lastSeen: Double,
                lastPath: String, lastResult: String) {
        self.mac = mac
        self.model = model
        self.firmware = firmware
        self.address = address
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.lastPath = lastPath
        self.lastResult = lastResult
    }
}

/// The request log and device registry in the data folder's SQLite database.
///
/// `record` only appends to memory; a background flush writes batches in one transaction, so logging never
/// slows a transfer. Every long-running part is a `Service`: `run()` flushes until shutdown, then once more.
