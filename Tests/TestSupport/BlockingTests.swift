import Foundation
import Storage
import Testing

/// A suite whose tests block (servers, clients, waits for processes): each test case runs on a thread of its own,
/// never on the runner's shared threads. Those are as many as cores, and every test starts and resumes on them in
/// turn: two blocking bodies held both for minutes, and a test that suspended for a moment waited that long to go on,
/// its time limit running. How many run at once is the runner's to say (scripts/test sets its width).
public struct BlockingTests: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    /// A thread for each test case, the one thing a body runs in.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let executor = ThreadExecutor()
        defer { executor.stop() }
        try await withTaskExecutorPreference(executor) { try await function() }
    }
}

extension Trait where Self == BlockingTests {
    /// Each test case on a thread of its own (``BlockingTests``).
    public static var blocking: Self { BlockingTests() }
}
