/// The addresses a DHCP server hands out and who holds each (RFC 2131 §4.3), with the time passed in (seconds on
/// any monotonic or wall clock the caller keeps). An address is never held by two clients: every change goes
/// through ``assign(_:to:state:now:until:)``, which frees the client's previous address and refuses one held by another.
public struct DHCPLeasePool: Sendable {
    /// One client's hold on an address.
    public struct Lease: Sendable, Equatable {
        public enum State: String, Sendable {
            /// Offered, not yet requested: held briefly so the same address is offered again.
            case offered
            case bound
        }

        public var hardwareAddress: [UInt8]
        public var address: IPv4Address
        public var state: State
        /// When the hold ends.
        public var expires: UInt64

        public init(hardwareAddress: [UInt8], address: IPv4Address, state: State, expires: UInt64) {
            self.hardwareAddress = hardwareAddress
            self.address = address
            self.state = state
            self.expires = expires
        }
    }

    public let range: ClosedRange<IPv4Address>
    /// Fixed addresses for some clients; they may lie outside ``range`` and nobody else gets them.
    public let reservations: [[UInt8]: IPv4Address]
    private let reservedAddresses: Set<IPv4Address>
    public private(set) var leases: [IPv4Address: Lease] = [:]
    private var byClient: [[UInt8]: IPv4Address] = [:]
    /// Addresses a client declined (in use by someone we do not know), and until when they are left alone.
    public private(set) var declined: [IPv4Address: UInt64] = [:]

    /// How long a declined address is left alone (RFC 2131 §3.1 step 5 leaves it to the server).
    public static let declineSeconds: UInt64 = 600

    public init(range: ClosedRange<IPv4Address>, reservations: [[UInt8]: IPv4Address] = [:], leases: [Lease] = []) {
        self.range = range
        self.reservations = reservations
        reservedAddresses = Set(reservations.values)
        // Stored leases that contradict each other (two clients, one address): the first stays.
        for lease in leases {
            assign(lease.address, to: lease.hardwareAddress, state: lease.state, now: 0, until: lease.expires)
        }
    }

    public func lease(of client: [UInt8]) -> Lease? {
        byClient[client].flatMap { leases[$0] }
    }

    /// Whether `address` may go to `client` at `now`: ours to give (in the range or reserved for it), not reserved
    /// for another, not held by another, not recently declined.
    public func isAvailable(_ address: IPv4Address, for client: [UInt8], now: UInt64) -> Bool {
        if let reserved = reservations[client] { return reserved == address }
        guard range.contains(address), !reservedAddresses.contains(address) else { return false }
        if let until = declined[address], until > now { return false }
        if let holder = leases[address], holder.hardwareAddress != client, holder.expires > now { return false }
        return true
    }


    /// The address to offer `client`: its reservation, its current or last address, the one it asks for, else the
    /// lowest free one (an expired lease's address counts as free); nil when the pool is exhausted.
    public func candidate(for client: [UInt8], requested: IPv4Address?, now: UInt64) -> IPv4Address? {
        if let reserved = reservations[client] {
            return isAvailable(reserved, for: client, now: now) && !heldByOther(reserved, client, now) ? reserved : nil
        }
        if let current = byClient[client], isAvailable(current, for: client, now: now) { return current }
        if let requested, isAvailable(requested, for: client, now: now) { return requested }
        var value = range.lowerBound.value
        while value <= range.upperBound.value {
            let address = IPv4Address(value: value)
            if isAvailable(address, for: client, now: now) { return address }
            if value == .max { break }
            value += 1
        }
        return nil
    }

    private func heldByOther(_ address: IPv4Address, _ client: [UInt8], _ now: UInt64) -> Bool {
        guard let holder = leases[address] else { return false }
        return holder.hardwareAddress != client && holder.expires > now
    }

    /// Gives `address` to `client` until `expires`, releasing what the client held before; false (and no change)
    /// when another client holds it at `now`.
    @discardableResult
    public mutating func assign(_ address: IPv4Address, to client: [UInt8], state: Lease.State, now: UInt64,
                                until expires: UInt64) -> Bool {
        if let holder = leases[address], holder.hardwareAddress != client {
            guard holder.expires <= now else { return false }
            byClient[holder.hardwareAddress] = nil
        }
        if let previous = byClient[client], previous != address { leases[previous] = nil }
        leases[address] = Lease(hardwareAddress: client, address: address, state: state, expires: expires)
        byClient[client] = address
        declined[address] = nil
        return true
    }

    /// The client gives its address back (DHCPRELEASE).
    public mutating func release(_ client: [UInt8], address: IPv4Address) {
        guard byClient[client] == address else { return }
        leases[address] = nil
        byClient[client] = nil
    }

    /// The client found its address in use (DHCPDECLINE): nobody gets it for a while.
    public mutating func decline(_ client: [UInt8], address: IPv4Address, now: UInt64) {
        guard byClient[client] == address else { return }
        leases[address] = nil
        byClient[client] = nil
        declined[address] = now + DHCPLeasePool.declineSeconds
    }

    /// Offers and leases that ended by `now`, removed; returns them.
    public mutating func expire(now: UInt64) -> [Lease] {
        let ended = leases.values.filter { $0.expires <= now }
        for lease in ended {
            leases[lease.address] = nil
            byClient[lease.hardwareAddress] = nil
        }
        declined = declined.filter { $0.value > now }
        return ended
    }
}
