import GRDB

/// A DHCP lease the built-in server gave (bound, not merely offered), kept so that a restart gives no address to
/// two clients.
public struct LeaseRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "dhcpLease"

    /// Canonical MAC (`00156574b150`).
    public var mac: String
    public var address: String
    /// Seconds since 1970 (UTC).
    public var expires: Double
    public var vendorClass: String?
    public var updated: Double

    public init(mac: String, address: String, expires: Double, vendorClass: String?, updated: Double) {
        self.mac = mac
        self.address = address
        self.expires = expires
        self.vendorClass = vendorClass
        self.updated = updated
    }
}

extension RequestLog {
    /// Stores a lease, replacing the client's previous one and any stale row holding the same address.
    public func saveLease(_ lease: LeaseRecord) throws { try store.saveLease(lease) }

    public func removeLease(mac: String) throws { try store.removeLease(mac: mac) }

    /// Every stored lease.
    public func leases() throws -> [LeaseRecord] { try store.leases() }
}

extension SQLiteRequestLog {
    public func saveLease(_ lease: LeaseRecord) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM dhcpLease WHERE address = ? AND mac <> ?", arguments: [lease.address, lease.mac])
            try lease.save(db)
        }
    }

    public func removeLease(mac: String) throws {
        _ = try database.write { try LeaseRecord.deleteOne($0, key: mac) }
    }

    public func leases() throws -> [LeaseRecord] {
        try database.read { try LeaseRecord.order(Column("address")).fetchAll($0) }
    }
}
