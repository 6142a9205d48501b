import Foundation
import ProvisioningCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Connections (or FTP sessions) open at once from each client address (S6): one client cannot hold every
/// descriptor, so the others are still served. Addresses and networks in `exempt` (a proxy, a load balancer, a
/// NAT in front of thousands of phones) are not counted.
public final class ConnectionLimits: Sendable {
    /// The most connections one address may hold.
    public let perAddress: Int
    private let exempt: [AddressRange]
    private let open = Mutex<[String: Int]>([:])
    private let metrics: ServerMetrics

    public init(perAddress: Int, exempt: [AddressRange], metrics: ServerMetrics) {
        self.perAddress = perAddress
        self.exempt = exempt
        self.metrics = metrics
    }

    /// Counts a new connection from `address`; false (and not counted) when that address is at its limit.
    public func admit(_ address: String) -> Bool {
        guard !isExempt(address) else { return true }
        let admitted = open.withLock { table -> Bool in
            guard table[address, default: 0] < perAddress else { return false }
            table[address, default: 0] += 1
            return true
        }
        if !admitted { metrics.event("connection-refused") }
        return admitted
    }

    /// A connection ``admit(_:)`` let in has closed.
    public func release(_ address: String) {
        guard !isExempt(address) else { return }
        open.withLock { table in
            guard let count = table[address] else { return }
            table[address] = count > 1 ? count - 1 : nil
        }
    }

    private func isExempt(_ address: String) -> Bool {
        !exempt.isEmpty && exempt.contains { $0.contains(address) }
    }
}
