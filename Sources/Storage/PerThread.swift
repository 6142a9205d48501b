import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A value kept once per thread group so that threads rarely wait on each other's lock: each thread uses the
/// shard its thread id falls in; `all` visits every shard (for readers such as a flush or `/metrics`).
public final class PerThread<Value: Sendable>: Sendable {
    // Inlinable, so that callers in other modules get a specialized copy instead of a generic call that looks up
    // type metadata on every request.
    @usableFromInline
    final class Shard: Sendable {
        @usableFromInline let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
    }

    @usableFromInline let shards: [Shard]

    public init(shards count: Int = 16, _ make: () -> Value) {
        shards = (0..<count).map { _ in Shard(make()) }
    }

    /// Runs `body` on this thread's shard.
    @inlinable
    public func withLock<Result>(_ body: (inout sending Value) -> sending Result) -> sending Result {
        let id = UInt64(pthread_self()) >> 12
        let index = Int((id &* 0x9E37_79B9_7F4A_7C15) >> 33) % shards.count
        return shards[index].mutex.withLock(body)
    }

    /// Runs `body` on every shard in turn.
    @inlinable
    public func forEach(_ body: (inout sending Value) -> Void) {
        for shard in shards { shard.mutex.withLock { value in body(&value) } }
    }
}
