import Synchronization

/// Repeated failed logins from one address, slowed down (S5): nothing for the first three, then doubling from
/// 250 ms up to 8 s, forgotten after five quiet minutes or at the address's next success. Phones' directory
/// passwords and the admin API's tokens count the same way.
public final class FailedLogins: Sendable {
    private let failures = Mutex<[String: (count: Int, last: ContinuousClock.Instant)]>([:])

    public init() {}

    /// Counts a failure and returns how long to wait before answering it.
    public func failed(_ client: String, now: ContinuousClock.Instant = .now) -> Duration {
        let count = failures.withLock { table -> Int in
            var entry = table[client] ?? (0, now)
            if now - entry.last > .seconds(300) { entry.count = 0 }
            entry.count += 1
            entry.last = now
            table[client] = entry
            if table.count > 100_000 { table = table.filter { now - $0.value.last < .seconds(300) } }
            return entry.count
        }
        guard count > 3 else { return .zero }
        return min(.milliseconds(250) * (1 << min(count - 4, 5)), .seconds(8))
    }

    /// A success from this address: earlier failures no longer slow it down.
    public func forget(_ client: String) {
        failures.withLock { _ = $0.removeValue(forKey: client) }
    }
}
