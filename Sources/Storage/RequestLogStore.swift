import Foundation

/// Where a ``RequestLog`` keeps requests, devices and DHCP leases: SQLite in the data folder
/// (``SQLiteRequestLog``), or PostgreSQL shared by several nodes. Every call blocks; the log calls the writing ones
/// from its own thread.
public protocol RequestLogStore: Sendable {
    /// Appends `requests` in the order `order` gives (time order), and applies the device updates, in one
    /// transaction: all of it is written, or nothing.
    func write(requests: [RequestRecord], order: [Int], devices: [String: DeviceUpdate]) throws
    /// Devices seen, most recent first.
    func devices() throws -> [DeviceRecord]
    /// One device, by its canonical MAC.
    func device(mac: String) throws -> DeviceRecord?
    /// Phones seen in the last hour, day and ever before `now`, and their firmware.
    func activity(now: Double) throws -> FleetActivity
    /// The latest requests, newest first, optionally for one MAC, over one protocol, or since a time.
    func requests(mac: String?, protocolName: String?, since: Double?, limit: Int) throws -> [RequestRecord]
    /// Stores a lease, replacing the client's previous one and any stale row holding the same address.
    func saveLease(_ lease: LeaseRecord) throws
    func removeLease(mac: String) throws
    /// Every stored lease, by address.
    func leases() throws -> [LeaseRecord]
    /// Seconds between two writes of the device updates (each device at most once per write).
    var deviceWriteInterval: Double { get }
}

extension RequestLogStore {
    public var deviceWriteInterval: Double { 1 }
}

/// What the next device write says of one device: the batches since the last write, merged.
public struct DeviceUpdate: Sendable {
    public var firstTime: Double
    public var lastTime: Double
    public var client: String
    public var path: String
    public var result: String
    public var model: String?
    public var firmware: String?

    public init(firstTime: Double, lastTime: Double, client: String, path: String, result: String, model: String?,
                firmware: String?) {
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.client = client
        self.path = path
        self.result = result
        self.model = model
        self.firmware = firmware
    }
}
