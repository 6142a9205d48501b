import Foundation
import ProvisioningCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Connections (or FTP sessions) open at once from each client address (S6): one client cannot hold every
/// descriptor, so the others are still served. Addresses and networks in `exempt` (a proxy, a load balancer, a
/// NAT in front of thousands of phones) are not counted. All of them together, exempt ones too, are held to `total`,
/// so that the server keeps descriptors for its files, its logs and its other listeners.
public final class ConnectionLimits: Sendable {
    /// The most connections one address may hold.
    public let perAddress: Int
    /// The most connections open at once, from every address.
    public let total: Int
    private let exempt: [AddressRange]
    private let open = Mutex<[String: Int]>([:])
    private let opened = Atomic<Int>(0)
    private let metrics: ServerMetrics

    public init(perAddress: Int, total: Int = .max, exempt: [AddressRange], metrics: ServerMetrics) {
        self.perAddress = perAddress
        self.total = total
        self.exempt = exempt
        self.metrics = metrics
    }

    /// Connections counted now.
    public var count: Int { opened.load(ordering: .relaxed) }

    /// Counts a new connection from `address`; false (and not counted) when that address, or the server, is at its
    /// limit.
    public func admit(_ address: String) -> Bool {
        guard opened.wrappingAdd(1, ordering: .relaxed).newValue <= total else {
            opened.wrappingSubtract(1, ordering: .relaxed)
            metrics.event("connection-refused")
            return false
        }
        guard !isExempt(address) else { return true }
        let admitted = open.withLock { table -> Bool in
            guard table[address, default: 0] < perAddress else { return false }
            table[address, default: 0] += 1
            return true
        }
        if !admitted {
            opened.wrappingSubtract(1, ordering: .relaxed)
            metrics.event("connection-refused")
        }
        return admitted
    }

    /// A connection ``admit(_:)`` let in has closed.
    public func release(_ address: String) {
        opened.wrappingSubtract(1, ordering: .relaxed)
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
