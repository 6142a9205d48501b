import NIOCore

/// At most `burst` datagrams at once from (or to) one address, refilled at `perSecond`; other addresses are not affected.
struct SourceRateLimiter {
    var burst = 40.0
    var perSecond = 20.0
    var maximumSources = 10_000
    private var buckets: [String: (tokens: Double, last: NIODeadline)] = [:]

    init(burst: Double = 40, perSecond: Double = 20) {
        self.burst = burst
        self.perSecond = perSecond
    }

    mutating func admit(_ source: String, now: NIODeadline) -> Bool {
        if buckets.count > maximumSources { buckets.removeAll(keepingCapacity: true) }
        var bucket = buckets[source] ?? (burst, now)
        let elapsed = Double((now - bucket.last).nanoseconds) / 1e9
        bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
        bucket.last = now
        guard bucket.tokens >= 1 else {
            buckets[source] = bucket
            return false
        }
        bucket.tokens -= 1
        buckets[source] = bucket
        return true
    }
}
