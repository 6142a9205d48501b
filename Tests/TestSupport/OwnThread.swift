import Foundation
import Storage

/// Runs a blocking test body (servers, clients, waits) on a thread of its own, so that it does not hold one of the
/// two threads every other test runs on. The body stays in the test's task (a task executor preference, not a
/// detached thread), so its expectations are the test's own.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let executor = ThreadExecutor()
    defer { executor.stop() }
    return try await withTaskExecutorPreference(executor) { try body() }
}
