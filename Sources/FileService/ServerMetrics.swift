#if canImport(Glibc)
import Glibc
#endif
import Storage
import Synchronization

/// Counters for `GET /metrics` (Prometheus text format). Labels are bounded: protocol and result only, never a
/// MAC or a path.
public final class ServerMetrics: Sendable {
    struct Key: Hashable, Comparable {
        var protocolName: String
        var result: String

        static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.protocolName, lhs.result) < (rhs.protocolName, rhs.result)
        }
    }

    private let requests = PerThread<[Key: Totals]> { [:] }
    /// Requests and errors in each of the last ten minutes, per thread (the console's fleet page).
    private let minutes = PerThread<MinuteRing> { MinuteRing() }

    /// Ten one-minute slots, each tagged with the minute (since 1970) it counts.
    struct MinuteRing: Sendable {
        var minute = [Int](repeating: -1, count: 10)
        var requests = [Int](repeating: 0, count: 10)
        var errors = [Int](repeating: 0, count: 10)
    }

    /// Results that are not failures: a file sent or stored, a listing, a phone's copy current, the metrics page.
    public static let fine: Set<String> = ["ok", "stored", "listed", "not-modified", "metrics"]

    struct Totals: Sendable {
        var count = 0
        var bytes = 0

        /// One request more, through one dictionary access.
        static func add(bytes: Int, to totals: inout Totals) {
            totals.count += 1
            totals.bytes += bytes
        }
    }
    /// Uploads stored.
    public let uploads = Counter()
    /// Request-log records dropped because the disk could not keep up.
    let droppedLogRecords: @Sendable () -> Int
    /// Request-log records waiting for a store that failed (PostgreSQL away).
    let waitingLogRecords: @Sendable () -> Int
    /// Asks each protocol how many transfers are in flight.
    private let inFlightSources = Mutex<[String: @Sendable () -> Int]>([:])
    /// Protective events by name (a fixed set: `auth-delayed`, `connection-refused`, `head-timeout`, …).
    private let events = Mutex<[String: Int]>([:])
    /// Counts kept elsewhere (a TFTP server's retransmissions), asked for when rendering.
    private let eventSources = Mutex<[String: @Sendable () -> Int]>([:])

    public init(droppedLogRecords: @escaping @Sendable () -> Int = { 0 },
                waitingLogRecords: @escaping @Sendable () -> Int = { 0 }) {
        self.droppedLogRecords = droppedLogRecords
        self.waitingLogRecords = waitingLogRecords
    }

    /// A monotonically increasing count.
    public final class Counter: Sendable {
        private let value = Mutex<Int>(0)

        public func add(_ amount: Int) { value.withLock { $0 += amount } }
        public var current: Int { value.withLock { $0 } }
    }

    func count(protocolName: String, result: String, bytes: Int) {
        requests.withLock { table in
            Totals.add(bytes: bytes, to: &table[Key(protocolName: protocolName, result: result), default: Totals()])
        }
        let minute = Int(time(nil)) / 60
        let failed = !ServerMetrics.fine.contains(result)
        minutes.withLock { ring in
            let slot = minute % 10
            if ring.minute[slot] != minute {
                (ring.minute[slot], ring.requests[slot], ring.errors[slot]) = (minute, 0, 0)
            }
            ring.requests[slot] += 1
            if failed { ring.errors[slot] += 1 }
        }
    }

    /// Requests and errors (refused, not found, failed) in each of the last ten minutes, the current one first, since
    /// the server started.
    public func perMinute(now: Double = Double(time(nil))) -> [(requests: Int, errors: Int)] {
        let current = Int(now) / 60
        var shown = Array(repeating: (requests: 0, errors: 0), count: 10)
        minutes.forEach { ring in
            for slot in 0..<10 {
                let ago = current - ring.minute[slot]
                guard ring.minute[slot] >= 0, (0..<10).contains(ago) else { continue }
                shown[ago].requests += ring.requests[slot]
                shown[ago].errors += ring.errors[slot]
            }
        }
        return shown
    }

    /// Registers the in-flight count of a protocol.
    public func trackInFlight(protocolName: String, _ source: @escaping @Sendable () -> Int) {
        inFlightSources.withLock { $0[protocolName] = source }
    }

    /// Counts one protective event: the server slowed down, refused or closed something to protect the others.
    public func event(_ name: String) {
        events.withLock { $0[name, default: 0] += 1 }
    }

    /// Registers an event count kept by another component.
    public func trackEvents(_ name: String, _ source: @escaping @Sendable () -> Int) {
        eventSources.withLock { $0[name] = source }
    }

    /// The current count of an event.
    public func eventCount(_ name: String) -> Int {
        events.withLock { $0[name] ?? 0 } + (eventSources.withLock { $0[name] }?() ?? 0)
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        var lines = [
            "# HELP autoprov_requests_total Requests by protocol and result.",
            "# TYPE autoprov_requests_total counter",
        ]
        var snapshot: [Key: Totals] = [:]
        requests.forEach { table in
            for (key, totals) in table {
                snapshot[key, default: Totals()].count += totals.count
                snapshot[key, default: Totals()].bytes += totals.bytes
            }
        }
        for key in snapshot.keys.sorted() {
            lines.append("autoprov_requests_total{protocol=\"\(key.protocolName)\",result=\"\(key.result)\"} \(snapshot[key]!.count)")
        }
        lines += ["# HELP autoprov_bytes_total Bytes sent or received by protocol and result.",
                  "# TYPE autoprov_bytes_total counter"]
        for key in snapshot.keys.sorted() {
            lines.append("autoprov_bytes_total{protocol=\"\(key.protocolName)\",result=\"\(key.result)\"} \(snapshot[key]!.bytes)")
        }
        lines += ["# HELP autoprov_transfers_in_flight Transfers in progress.",
                  "# TYPE autoprov_transfers_in_flight gauge"]
        for (name, source) in inFlightSources.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            lines.append("autoprov_transfers_in_flight{protocol=\"\(name)\"} \(source())")
        }
        lines += ["# HELP autoprov_uploads_total Uploads stored.", "# TYPE autoprov_uploads_total counter",
                  "autoprov_uploads_total \(uploads.current)",
                  "# HELP autoprov_log_dropped_total Request-log records dropped because the queue was full or the store was away too long.",
                  "# TYPE autoprov_log_dropped_total counter", "autoprov_log_dropped_total \(droppedLogRecords())",
                  "# HELP autoprov_log_waiting Request-log records waiting for the store to take them again.",
                  "# TYPE autoprov_log_waiting gauge", "autoprov_log_waiting \(waitingLogRecords())",
                  "# HELP autoprov_events_total Protective events: slowed-down logins, refused or timed-out connections,"
                    + " dropped requests, retransmissions.",
                  "# TYPE autoprov_events_total counter"]
        let names = Set(events.withLock { $0.keys }).union(eventSources.withLock { $0.keys })
        for name in names.sorted() { lines.append("autoprov_events_total{event=\"\(name)\"} \(eventCount(name))") }
        return lines.joined(separator: "\n") + "\n"
    }
}
