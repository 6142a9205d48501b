/// What a fleet run measured: phones completed and failed (by reason), files and bytes, rates, and latencies.
public struct FleetReport: Sendable {
    public struct PhoneResult: Sendable {
        public var mac: String
        public var transfers: [Transfer]
        public var seconds: Double
        /// nil when the phone reached a configuration file; else `timeout`, `refused`, `not found` or `bad file`.
        public var failure: String?
    }

    public var phones: [PhoneResult]
    public var seconds: Double

    public var completed: Int { phones.filter { $0.failure == nil }.count }
    public var failures: [String: Int] {
        Dictionary(grouping: phones.compactMap(\.failure), by: { $0 }).mapValues(\.count)
    }
    public var files: Int { phones.reduce(0) { $0 + $1.transfers.count } }
    public var bytes: Int { phones.reduce(0) { $0 + $1.transfers.reduce(0) { $0 + $1.bytes } } }

    /// The value below which `fraction` of the sorted values lie (nearest rank).
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    public struct Summary: Sendable, Encodable {
        public var phones: Int
        public var completed: Int
        public var failed: Int
        public var failures: [String: Int]
        public var files: Int
        public var bytes: Int
        public var seconds: Double
        public var phonesPerSecond: Double
        public var filesPerSecond: Double
        /// Per file: p50, p90, p99 and max seconds.
        public var fileLatency: [String: Double]
        /// Per phone, from its first request to its last answer: p50, p99 and max seconds.
        public var phoneCompletion: [String: Double]
    }

    public var summary: Summary {
        let latencies = phones.flatMap { $0.transfers.map(\.seconds) }.sorted()
        let completions = phones.map(\.seconds).sorted()
        let rate = { (count: Int) in seconds > 0 ? Double(count) / seconds : 0 }
        return Summary(
            phones: phones.count, completed: completed, failed: phones.count - completed, failures: failures,
            files: files, bytes: bytes, seconds: seconds, phonesPerSecond: rate(phones.count), filesPerSecond: rate(files),
            fileLatency: ["p50": Self.percentile(latencies, 0.5), "p90": Self.percentile(latencies, 0.9),
                          "p99": Self.percentile(latencies, 0.99), "max": latencies.last ?? 0],
            phoneCompletion: ["p50": Self.percentile(completions, 0.5), "p99": Self.percentile(completions, 0.99),
                              "max": completions.last ?? 0])
    }
}
